"""Render a run's ``results.json`` as ``summary.md``: the matrix of algorithms x variant x dtype with
pass/fail/known-deviation/not-supported counts and the worst divergence, then each failure."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from tabulate import tabulate

OUTCOMES = ("passed", "failed", "xfailed", "xpassed", "unsupported")
LABELS = {
    "passed": "pass",
    "failed": "FAIL",
    "xfailed": "known dev.",
    "xpassed": "XPASS",
    "unsupported": "n/s",
}


def _cell(records: list[dict[str, Any]]) -> str:
    counts = Counter(r["outcome"] for r in records)
    parts = [f"{counts[o]} {LABELS[o]}" for o in OUTCOMES if counts[o]]
    worst = max(
        (r.get("metrics", {}).get("max_rel", 0.0) for r in records if r["outcome"] != "unsupported"),
        default=None,
    )
    text = ", ".join(parts) + f" / {len(records)}"
    if worst:
        text += f" (worst {worst:.1e})"
    return text


def render_markdown(data: dict[str, Any]) -> str:
    env = data["environment"]
    records = data["records"]
    lines = [f"# Conformance report: {env['candidate']}", ""]
    lines.append(
        tabulate(
            [[k, v] for k, v in env.items() if k != "command"] + [["command", f"`{env['command']}`"]],
            headers=["", ""],
            tablefmt="github",
        )
    )
    counts = Counter(r["outcome"] for r in records)
    lines += ["", "## Totals", ""]
    lines.append(
        tabulate(
            [[LABELS.get(o, o), counts[o]] for o in OUTCOMES] + [["total", len(records)]],
            tablefmt="github",
            headers=["outcome", "checks"],
        )
    )
    columns = sorted({(r["variant"], r["dtype"]) for r in records})
    by_row: dict[str, dict[tuple[str, str], list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        by_row[r.get("optimizer") or r["case"].split("/")[0]][(r["variant"], r["dtype"])].append(r)
    lines += ["", "## Matrix", "", "Each cell: outcomes / checks run (worst norm-wise relative error).", ""]
    table = [
        [name] + [_cell(cells[c]) if cells[c] else "" for c in columns]
        for name, cells in sorted(by_row.items())
    ]
    lines.append(tabulate(table, headers=["", *[f"{v} {d}" for v, d in columns]], tablefmt="github"))
    failures = [r for r in records if r["outcome"] in ("failed", "xpassed")]
    if failures:
        lines += ["", "## Failures", ""]
        for r in failures:
            lines += [f"### {r['test']}", "", "```", r.get("message", "").strip(), "```", ""]
    deviations = [r for r in records if r["outcome"] == "xfailed"]
    if deviations:
        lines += ["", "## Known deviations", ""]
        rows = sorted(
            {
                (r["test"], r["deviation"]["reason"], r["deviation"]["upstream"])
                for r in deviations
                if "deviation" in r
            }
        )
        lines.append(tabulate(rows, headers=["test", "reason", "upstream"], tablefmt="github"))
    if data.get("unmatched_deviations"):
        lines += ["", "## Known-deviation entries that matched no test", ""]
        lines += [f"- `{d['test']}`: {d['reason']} ({d['upstream']})" for d in data["unmatched_deviations"]]
    return "\n".join(lines) + "\n"
