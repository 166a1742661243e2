"""Hand-built ``results.json`` contents for the report tests: records with exactly the outcomes, metrics and
strings a test needs, so every expected count in a test is known by construction."""

from __future__ import annotations

from typing import Any


def record(
    case: str,
    outcome: str,
    *,
    optimizer: str = "Adam",
    variant: str = "forloop",
    dtype: str = "float64",
    check: str = "test_trajectory",
    max_rel: float | None = 1e-16,
    **extra: Any,
) -> dict[str, Any]:
    """One record as the plugin writes it (``max_rel=None``: no metrics, as for a not-supported check)."""
    r: dict[str, Any] = {
        "check": check,
        "case": case,
        "dtype": dtype,
        "device": "cpu",
        "variant": variant,
        "optimizer": optimizer,
        "test": f"{check}[{case}-{dtype}-cpu-{variant}]",
        "outcome": outcome,
    }
    if max_rel is not None:
        r["metrics"] = {
            "max_abs": max_rel,
            "max_rel": max_rel,
            "max_ulp": 1.0,
            "first_bad_step": 3 if outcome in ("failed", "xfailed") else None,
            "non_finite": False,
            "worst_step": 5,
        }
    if outcome in ("failed", "xfailed"):
        r["per_step"] = {
            "steps": [1, 2, 3, 4, 5],
            "max_rel": [0.0, 1e-12, 1e-6, 1e-5, max_rel],
            "rtol": [1e-10] * 5,
        }
        r["message"] = f"Adam does not conform: {case}\n  reproduce:\n    replay('x')"
    r.update(extra)
    return r


def results(records: list[dict[str, Any]], **environment: Any) -> dict[str, Any]:
    env = {
        "candidate": "torch",
        "candidate_version": "torch 2.13.0",
        "numpy": "2.0",
        "torch": "2.13.0",
        "device": "cpu",
        "device_name": "x86_64",
        "dtypes": ["float64", "float32"],
        "variants": "all supported",
        "command": "pytest conformance --impl=torch",
        "date": "2026-01-01T00:00:00+00:00",
        **environment,
    }
    return {"format_version": 1, "environment": env, "records": records, "unmatched_deviations": []}


def mixed() -> dict[str, Any]:
    """Adam forloop float64: 2 pass + 1 FAIL; Adam foreach float64: 1 known deviation + 1 n/s;
    SGD forloop float32: 1 pass. Six checks in all."""
    return results(
        [
            record("adam/a", "passed", max_rel=2e-16),
            record("adam/b", "passed", max_rel=3e-16),
            record("adam/c", "failed", max_rel=0.25),
            record(
                "adam/d",
                "xfailed",
                variant="foreach",
                max_rel=1e-7,
                deviation={"reason": "foreach rounds eta in float32", "upstream": "pytorch/pytorch#125440"},
            ),
            record("adam/e", "unsupported", variant="foreach", max_rel=None, unsupported="not supported: x"),
            record("sgd/a", "passed", optimizer="SGD", dtype="float32", max_rel=4e-8),
        ]
    )


def bench_row(optimizer: str, variant: str, size: int, median: float, **extra: Any) -> dict[str, Any]:
    row = {
        "optimizer": optimizer,
        "variant": variant,
        "impl": "torch",
        "role": "candidate",
        "size": size,
        "tensors": 1,
        "label": f"{size:.0e}",
        "median": median,
        "q1": median * 0.9,
        "q3": median * 1.1,
        "iqr": median * 0.2,
        "samples": 5,
        "per_sample": 1,
        "includes_conversion": False,
        "elements_per_s": size / median,
        "bytes_per_element": 28,
        "bandwidth": 28 * size / median,
        "roofline": 0.5,
        "speedup": 1.0,
    }
    row.update(extra)
    return row


def bench(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "config": {"sizes": ["1e3"], "repeats": 5, "dtype": "float32", "device": "cpu", "threads": 1},
        "copy": {
            "numel": 1000,
            "label": "1e3",
            "bytes": 8000,
            "how": "torch copy_",
            "median": 1e-6,
            "iqr": 0.0,
            "samples": 5,
            "bandwidth": 8e9,
        },
        "baseline": "torch.optim forloop",
        "traffic": {
            "Adam": {
                "reads": 4,
                "writes": 3,
                "state": ["exp_avg", "exp_avg_sq"],
                "why": "p, g, m, v",
                "bytes_per_element": 28,
            }
        },
        "rows": rows,
        "skipped": [{"optimizer": "LBFGS", "variant": "", "size": "", "reason": "closure-driven"}],
        "seconds": 1.0,
    }
