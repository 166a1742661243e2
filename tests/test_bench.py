"""``--bench``: what it measures and how it reports it, on tiny sizes (no real benchmark runs here, and no
assertion on any time: only on the structure and on the arithmetic that turns times into figures)."""

from __future__ import annotations

import json

import pytest
from run_conformance import conformance

from conformance.bench import BenchConfig, BenchConfigError, parse_sizes, run_bench
from conformance.bench.suite import ITEMSIZE, Size, device_sync
from conformance.bench.timing import measure
from conformance.bench.traffic import HYPER, NOT_BENCHED, TRAFFIC
from conformance.report import speed
from refimpl.optim import MODULES

TINY = "64,64/4"


def test_every_optimizer_is_benchmarked_or_says_why_not():
    assert set(TRAFFIC) | set(NOT_BENCHED) == set(MODULES)
    assert not set(TRAFFIC) & set(NOT_BENCHED)


@pytest.mark.parametrize("name", sorted(TRAFFIC))
def test_bytes_per_element_count_the_state_torch_keeps(name):
    """Each entry's per-element state is what torch 2.13 allocates for the benchmarked hyperparameters, and
    the count is one read of p and g plus a read and write of p and each state tensor (Adafactor: twice)."""
    torch = pytest.importorskip("torch")
    p = torch.zeros(10, requires_grad=True)
    p.grad = torch.ones(10)
    optimizer = getattr(torch.optim, name)([p], **HYPER.get(name, {}))
    optimizer.step()
    full_size = {k for k, v in optimizer.state[p].items() if torch.is_tensor(v) and v.numel() == p.numel()}
    traffic = TRAFFIC[name]
    assert full_size == set(traffic.state)
    passes = 2 if name == "Adafactor" else 1  # the two reductions before the update (see traffic.py)
    assert traffic.reads == passes * (2 + len(traffic.state))
    assert traffic.writes == 1 + len(traffic.state)


@pytest.mark.parametrize(
    "spec, expected",
    [("1e3", [Size(1000)]), ("1e7/1000, 64", [Size(10**7, 1000), Size(64)]), ("8/8", [Size(8, 8)])],
)
def test_sizes(spec, expected):
    assert list(parse_sizes(spec)) == expected
    assert ",".join(s.label for s in expected) == spec.replace(" ", "")


@pytest.mark.parametrize("spec", ["", "big", "1e3/7", "0", "1.5", "10/0"])
def test_bad_sizes_are_one_line_naming_the_option(spec):
    with pytest.raises(BenchConfigError, match=r"^--bench-sizes: ") as e:
        parse_sizes(spec)
    assert "\n" not in str(e.value)


def test_bad_config_is_one_line():
    with pytest.raises(BenchConfigError, match="--bench-dtype: 'int8'"):
        BenchConfig(parse_sizes("8"), dtype="int8")
    with pytest.raises(BenchConfigError, match="--bench-repeats"):
        BenchConfig(parse_sizes("8"), repeats=0)
    with pytest.raises(BenchConfigError, match="--bench-threads"):
        BenchConfig(parse_sizes("8"), threads=-1)


def test_measure_warms_up_calibrates_and_synchronises_around_every_sample():
    events: list[str] = []
    timing = measure(lambda: events.append("op"), lambda: events.append("sync"), repeats=3, warmup=2)
    ops_before_first_sync = events.index("sync")
    assert ops_before_first_sync == 2  # the warm-up is not timed
    samples = "".join("o" if e == "op" else "|" for e in events[2:]).split("|")[1::2]
    # one calibration sample of one op, then three of per_sample ops, each between two syncs
    assert [len(s) for s in samples] == [1] + [timing.per_sample] * 3
    assert timing.samples == 3 and timing.q1 <= timing.median <= timing.q3


def test_cuda_sync_waits_for_the_device(monkeypatch):
    torch = pytest.importorskip("torch")
    calls = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: calls.append(str(device)))
    device_sync("cuda:1")()
    device_sync("cpu")()
    assert calls == ["cuda:1"]


@pytest.fixture(scope="module")
def torch_bench():
    pytest.importorskip("torch")
    from conformance.adapters import resolve

    return run_bench(resolve("torch"), ["SGD", "Adam", "LBFGS"], BenchConfig(parse_sizes(TINY), repeats=2))


def test_rows_cover_optimizer_variant_size_with_derived_figures(torch_bench):
    rows = torch_bench["rows"]
    assert {(r["optimizer"], r["variant"], r["label"]) for r in rows} == {
        (o, v, s) for o in ("SGD", "Adam") for v in ("forloop", "foreach", "fused") for s in ("64", "64/4")
    }
    copy = torch_bench["copy"]
    assert copy["bytes"] == 2 * 64 * ITEMSIZE["float32"]
    for r in rows:
        per_element = TRAFFIC[r["optimizer"]].passes * 4
        assert r["bytes_per_element"] == per_element
        assert r["elements_per_s"] == pytest.approx(64 / r["median"])
        assert r["bandwidth"] == pytest.approx(64 * per_element / r["median"])
        assert r["roofline"] == pytest.approx(r["bandwidth"] / copy["bandwidth"])
        assert r["q1"] <= r["median"] <= r["q3"] and r["iqr"] == pytest.approx(r["q3"] - r["q1"])
        assert not r["includes_conversion"]  # torch's step() is timed alone
        base = next(
            b
            for b in rows
            if (b["optimizer"], b["variant"], b["tensors"]) == (r["optimizer"], "forloop", r["tensors"])
        )
        assert r["speedup"] == pytest.approx(base["median"] / r["median"])
    assert [s["optimizer"] for s in torch_bench["skipped"]] == ["LBFGS"]
    assert torch_bench["config"]["threads"] == 1
    assert set(torch_bench["traffic"]) == {"SGD", "Adam"}


def test_a_drop_in_candidate_is_compared_with_torch_forloop_measured_alongside():
    pytest.importorskip("torch")
    import torch

    from conformance.adapters import resolve

    threads = torch.get_num_threads()
    bench = run_bench(resolve("torch:mutants.control"), ["SGD"], BenchConfig(parse_sizes("32"), repeats=1))
    assert bench["config"]["threads"] == 1 and torch.get_num_threads() == threads  # restored after
    baseline = [r for r in bench["rows"] if r["role"] == "baseline"]
    assert [(r["impl"], r["variant"]) for r in baseline] == [("torch", "forloop")]
    for r in bench["rows"]:
        assert r["speedup"] == pytest.approx(baseline[0]["median"] / r["median"])


def test_bench_option_puts_the_speed_section_in_every_report(tmp_path, capsys):
    pytest.importorskip("torch")
    code, out = conformance(
        "torch",
        "sgd/lr0.001-mom0.9-rosenbrock and float32 and test_single_step",
        tmp_path,
        capsys,
        "--bench",
        "--bench-sizes=32",
        "--bench-repeats=1",
    )
    assert code == 0, out[-2000:]
    assert "speed (" in out and "copy bandwidth" in out  # the figures are printed
    data = json.loads((tmp_path / "report" / "results.json").read_text())
    assert {r["optimizer"] for r in data["bench"]["rows"]} == {"SGD"}
    assert "### SGD" in (tmp_path / "report" / "summary.md").read_text()
    assert 'id="speed"' in (tmp_path / "report" / "index.html").read_text()


def test_bad_bench_option_is_a_usage_error(tmp_path, capsys):
    pytest.importorskip("torch")
    code, out = conformance("torch", "sgd/", tmp_path, capsys, "--bench", "--bench-sizes=1e3/7")
    assert code == pytest.ExitCode.USAGE_ERROR
    assert "--bench-sizes: '1e3/7'" in out


def test_a_candidate_that_fails_while_timed_is_listed_and_the_rest_goes_on():
    pytest.importorskip("torch")
    from harness_adapters import BAD_STEP, RaisingAdapter

    assert BAD_STEP == 3  # the first (untimed) step, the warm-up, then the first timed step raises
    bench = run_bench(RaisingAdapter(), ["SGD", "Adam"], BenchConfig(parse_sizes("16"), repeats=1))
    assert {(s["optimizer"], s["variant"], s["reason"]) for s in bench["skipped"]} == {
        (name, "default", "raised FloatingPointError: kernel launch failed") for name in ("SGD", "Adam")
    }
    assert {(r["optimizer"], r["role"]) for r in bench["rows"]} == {("SGD", "baseline"), ("Adam", "baseline")}


def test_an_adapter_without_step_again_is_timed_through_step_and_says_so():
    pytest.importorskip("torch")
    from conformance.adapters import resolve

    bench = run_bench(resolve("refimpl"), ["SGD"], BenchConfig(parse_sizes("16"), repeats=1))
    (candidate,) = [r for r in bench["rows"] if r["role"] == "candidate"]
    assert candidate["includes_conversion"] and candidate["speedup"] is not None
    assert "* the adapter has no step_again()" in speed.NOTES
    assert speed.tables(bench)[0].rows[0][0] == "default *"
