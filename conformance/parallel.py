"""The suite spread over pytest-xdist workers (``pytest conformance -n auto``), with one report.

Under xdist the workers run the tests and the controller reports them, so every record travels with its
test's report: ``pytest_runtest_makereport`` (wherever the test ran) stores it, JSON-encoded, as an
attribute of the report, which pytest serializes with the report for xdist (``_report_to_json`` keeps a
report's extra attributes), and ``pytest_runtest_logreport`` (in the process that reports: the serial
run's only process, or xdist's controller) appends it to the session's records. The controller alone writes
``results.json`` and the reports, with the records in collection order, as the serial run writes them;
workers write nothing. What the controller cannot see (which known deviations matched a test: matching
happens at collection, which only the workers do) comes back in each worker's ``workeroutput``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from conformance.results import _jsonable

ATTRIBUTE = "optconf_record"
MATCHED = "optconf_deviations_matched"


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def attach(report: pytest.TestReport, record: dict[str, Any]) -> None:
    """Put the record on the report as JSON: what results.json will hold, and what xdist can carry."""
    setattr(report, ATTRIBUTE, json.dumps(record, default=_jsonable))


def received(report: pytest.TestReport) -> dict[str, Any] | None:
    encoded = getattr(report, ATTRIBUTE, None)
    return json.loads(encoded) if encoded else None


def in_collection_order(records: list[dict[str, Any]], order: list[str]) -> list[dict[str, Any]]:
    """The records sorted as the tests were collected (xdist's workers finish in any order); a serial
    run's are already in that order (``order`` empty: left as they are)."""
    if not order:
        return records
    position = {nodeid: i for i, nodeid in enumerate(order)}
    return sorted(records, key=lambda r: position.get(r.get("nodeid", ""), len(position)))


class Reporter:
    """Hooks of the process that reports (registered everywhere but in xdist's workers): it gathers the
    records; under xdist, also the collection order and the workers' deviation counts."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.position: dict[str, int] = {}  # nodeid -> index in the records

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """One record per test: a later report of the same test (a teardown error after the call) replaces
        the earlier one, which it extends."""
        record = received(report)
        if record is None:
            return
        records = self.session.records
        if report.nodeid in self.position:
            records[self.position[report.nodeid]] = record
        else:
            self.position[report.nodeid] = len(records)
            records.append(record)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        # Every worker collects the same tests in the same order (xdist checks it).
        self.session.collection_order = list(ids)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        matched = getattr(node, "workeroutput", {}).get(MATCHED)
        if matched:  # each worker matched the deviations against the whole collection: take the counts
            for deviation, count in zip(self.session.deviations, matched, strict=True):
                deviation.matched = max(deviation.matched, count)


def finish_worker(config: pytest.Config, session: Any) -> None:
    """A worker's part at the end: hand the controller what only collection knew."""
    config.workeroutput[MATCHED] = [d.matched for d in session.deviations]
