"""The latency harness (``ranker bench``): percentile arithmetic, the regression check's exit
codes, and a tiny real run."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pytest

from ranker import benchmark




# --- percentiles --------------------------------------------------------------------------


def test_percentile_is_nearest_rank():
    hundred = list(range(1, 101))
    assert benchmark.percentile(hundred, 50) == 50
    assert benchmark.percentile(hundred, 99) == 99
    assert benchmark.percentile(hundred, 99.9) == 100
    assert benchmark.percentile(hundred, 100) == 100
    assert benchmark.percentile(hundred, 0) == 1
    assert benchmark.percentile([1, 2, 3, 4], 50) == 2
    assert benchmark.percentile([1, 2, 3, 4], 50.1) == 3
    assert benchmark.percentile([7], 99.9) == 7


def test_percentile_rank_is_exact_not_rounded():
    # 99.9% of 1000 is exactly 999: a float 0.999 * 1000 may land above it and pick the 1000th.
    thousand = list(range(1, 1001))
    assert benchmark.percentile(thousand, 99.9) == 999
    assert benchmark.percentile(list(range(1, 10001)), 99) == 9900
    assert benchmark.percentile(list(range(1, 10001)), 99.9) == 9990


def test_percentile_ignores_input_order_and_returns_a_sample():
    rng = np.random.default_rng(0)
    for size in (1, 2, 3, 10, 999, 1000, 1001, 10_000):
        samples = rng.lognormal(3.0, 1.0, size)
        for q in (0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 100.0):
            got = benchmark.percentile(samples.tolist(), q)
            assert got in samples
            if (Fraction(str(q)) * size / 100).denominator != 1:
                # numpy's nearest rank agrees, except on exact boundaries, where its float
                # arithmetic may round up (99.9% of 1000 -> the 1000th)
                assert got == np.percentile(samples, q, method="inverted_cdf")
            rank = max(1, math.ceil(Fraction(str(q)) * size / 100))
            assert got == np.sort(samples)[rank - 1]


@pytest.mark.parametrize("q", [-1.0, 100.5, math.nan])
def test_percentile_refuses_bad_q(q):
    with pytest.raises(ValueError, match="q must be"):
        benchmark.percentile([1, 2, 3], q)


def test_percentile_refuses_no_samples():
    with pytest.raises(ValueError, match="no samples"):
        benchmark.percentile([], 50)


def test_summarize_reports_microseconds_and_rate():
    samples_ns = [1000 * (i + 1) for i in range(1000)]  # 1 .. 1000 us
    s = benchmark.summarize(samples_ns, wall_s=2.0)
    assert (s["p50"], s["p99"], s["p999"], s["max"], s["min"]) == (500.0, 990.0, 999.0, 1000.0, 1.0)
    assert s["requests"] == 1000
    assert s["rps"] == 500.0
    assert s["mean"] == pytest.approx(500.5)
    assert benchmark.summarize(samples_ns)["rps"] == pytest.approx(1000 / (sum(samples_ns) / 1e9))


def test_request_p50s_take_each_requests_own_calls():
    # Three requests cycled: call n ranked request n % 3. Request 1 is slow, request 2 has one
    # outlier call that must not move its median.
    per_request = {0: [10, 12, 11, 13], 1: [40, 41, 39, 42], 2: [20, 500, 21, 22]}
    samples_ns = [1000 * per_request[n % 3][n // 3] for n in range(12)]
    assert benchmark.request_p50s(samples_ns, 3) == [11.0, 40.0, 21.0]
    # Fewer calls than requests: the untimed ones are None, not zero.
    assert benchmark.request_p50s([5000, 7000], 4) == [5.0, 7.0, None, None]
    with pytest.raises(ValueError, match="pool_size"):
        benchmark.request_p50s(samples_ns, 0)


def test_ratios_are_baseline_over_native():
    native = {"p50": 10.0, "p99": 20.0, "p999": 40.0, "max": 80.0}
    base = {"p50": 250.0, "p99": 400.0, "p999": 800.0, "max": 800.0}
    assert benchmark.ratios(base, native) == {"p50": 25.0, "p99": 20.0, "p999": 20.0, "max": 10.0}


# --- the machine's floor -------------------------------------------------------------------


def test_spin_iterations_rescales_to_the_target():
    def linear(iterations: int) -> float:  # 500 ns of call overhead, 20 ns per iteration
        return 500.0 + 20.0 * iterations

    found = benchmark.spin_iterations(100_000.0, linear)
    assert linear(found) == pytest.approx(100_000.0, rel=0.01)
    assert benchmark.spin_iterations(100_000.0, linear, first_guess=1_000_000) == pytest.approx(found, rel=0.01)


def test_spin_iterations_grows_past_the_clock_resolution():
    def coarse(iterations: int) -> float:  # a clock that reads 0 below 10,000 iterations
        return 0.0 if iterations < 10_000 else float(iterations)

    assert benchmark.spin_iterations(50_000.0, coarse, first_guess=1, steps=6) == 50_000


def test_spin_iterations_refuses_a_target_that_is_not_positive():
    for bad in (0.0, -1.0, math.nan):
        with pytest.raises(ValueError, match="target_ns"):
            benchmark.spin_iterations(bad, lambda n: 1.0)


def test_floor_p99_adds_the_probes_tail_to_the_native_median():
    native = {"p50": 100.0, "p99": 180.0, "floor": {"p50": 90.0, "p99": 140.0}}
    assert benchmark.floor_p99(native) == 150.0
    assert benchmark.tail_us(native) == 80.0


def test_time_calls_times_a_probe_after_every_call():
    calls = []
    pool = [("c0", "u0"), ("c1", "u1")]
    out = benchmark.time_calls(lambda c, u, p: calls.append((c, u, p)), pool, "policy", 6, 3, floor=True)
    cycled = [(f"c{n % 2}", f"u{n % 2}", "policy") for n in range(6)]
    assert calls == cycled[:3] + cycled  # three warm-up calls, then six timed, each cycling from the start
    probe = out["floor"]
    assert probe["requests"] == 6 and probe["iterations"] >= 1 and 0 < probe["p50"] <= probe["p99"]
    assert out["floor_p99"] == pytest.approx(out["p50"] + probe["p99"] - probe["p50"])
    assert "floor" not in benchmark.time_calls(lambda c, u, p: None, pool, "policy", 4, 1)
    # Without a warm-up the probe is calibrated on one untimed call of each request.
    calls.clear()
    out = benchmark.time_calls(lambda c, u, p: calls.append((c, u, p)), pool, "policy", 2, 0, floor=True)
    assert calls == cycled[:2] + cycled[:2] and out["floor"]["requests"] == 2


def test_the_floor_probe_follows_the_calls_when_the_machine_slows(monkeypatch):
    # A fake clock: each call takes 1 us for the first 100 calls and 3 us after (the machine
    # slowed down), and the probe takes 2 ns an iteration; the probe must follow.
    now = [0]
    calls = [0]

    def call(c, u, p):
        calls[0] += 1
        now[0] += 1000 if calls[0] <= 100 else 3000

    def fake_spin(iterations):
        now[0] += 2 * iterations

    monkeypatch.setattr(benchmark.time, "perf_counter_ns", lambda: now[0])
    monkeypatch.setattr(benchmark, "spin", fake_spin)
    out = benchmark.time_calls(call, [("c", "u")], "policy", 4 * benchmark.RECALIBRATE, 10, floor=True)
    assert out["floor"]["iterations"] == 1500  # 3 us at 2 ns an iteration, from 500
    assert out["floor"]["min"] == 1.0 and out["floor"]["max"] == 3.0
    assert out["floor"]["p99"] == out["p99"] == 3.0  # the last two blocks of probes took 3 us


# --- --compare ----------------------------------------------------------------------------


def _record(p99s: dict, cpu: str = "Test CPU") -> dict:
    return {
        "schema": benchmark.SCHEMA,
        "environment": {"cpu_model": cpu, "cores": 2, "ranker": "0.1.0", "git_revision": "abc"},
        "scenarios": {name: {"n": 1000, "d": 64, "native": {"p50": p99 / 2, "p99": p99, "p999": p99 * 1.5,
                                                             "max": p99 * 3}}
                      for name, p99 in p99s.items()},
    }


def _with_floor(record: dict, name: str, p50: float, p99: float, floor_p50: float, floor_p99: float) -> dict:
    native = record["scenarios"][name]["native"]
    native.update(p50=p50, p99=p99)
    native["floor"] = {"p50": floor_p50, "p99": floor_p99}
    return record


def test_compare_blames_the_machine_when_its_floor_grew_as_much(tmp_path, capsys):
    old = _with_floor(_record({"a": 0.0}), "a", 100.0, 150.0, 95.0, 130.0)
    new = _with_floor(_record({"a": 0.0}), "a", 102.0, 190.0, 96.0, 175.0)  # tail +38, floor's +44
    assert _compare(tmp_path, old, new) == 1  # still a regression: the note does not excuse it
    out = capsys.readouterr().out
    assert "REGRESSION" in out and "floor tail change us" in out and "+44.0" in out
    assert "most likely the machine" in out


def test_compare_does_not_blame_the_machine_for_a_slower_median_or_a_taller_tail(tmp_path, capsys):
    old = _with_floor(_record({"a": 0.0}), "a", 100.0, 150.0, 95.0, 130.0)
    slower = _with_floor(_record({"a": 0.0}), "a", 130.0, 180.0, 125.0, 160.0)  # p50 +30%
    taller = _with_floor(_record({"a": 0.0}), "a", 100.0, 190.0, 95.0, 140.0)  # tail +40, floor's +10
    for new in (slower, taller):
        assert _compare(tmp_path, old, new) == 1
        out = capsys.readouterr().out
        assert "REGRESSION" in out and "most likely the machine" not in out


def test_compare_shows_the_floor_only_when_both_runs_have_one(tmp_path, capsys):
    old = _with_floor(_record({"a": 0.0}), "a", 100.0, 150.0, 95.0, 130.0)
    assert _compare(tmp_path, old, _record({"a": 150.0})) == 0
    assert "floor" not in capsys.readouterr().out
    assert _compare(tmp_path, old, old) == 0
    assert "floor tail change us" in capsys.readouterr().out


def _write(tmp_path, name: str, data: dict) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def _compare(tmp_path, old: dict, new: dict, *extra: str) -> int:
    return benchmark.main(["--compare", _write(tmp_path, "old.json", old), _write(tmp_path, "new.json", new),
                           *extra])


def test_compare_passes_within_threshold(tmp_path, capsys):
    assert _compare(tmp_path, _record({"a": 100.0, "b": 50.0}), _record({"a": 109.0, "b": 40.0})) == 0
    out = capsys.readouterr().out
    assert "+9.0%" in out and "-20.0%" in out and "REGRESSION" not in out


def test_compare_fails_on_a_p99_regression(tmp_path, capsys):
    assert _compare(tmp_path, _record({"a": 100.0, "b": 50.0}), _record({"a": 100.0, "b": 56.0})) == 1
    out = capsys.readouterr().out
    assert "REGRESSION" in out and "b" in out.splitlines()[-1]


def test_compare_threshold_option(tmp_path):
    old, new = _record({"a": 100.0}), _record({"a": 115.0})
    assert _compare(tmp_path, old, new) == 1
    assert _compare(tmp_path, old, new, "--threshold", "0.2") == 0
    assert _compare(tmp_path, old, new, "--threshold", "0.149") == 1


def test_compare_only_judges_scenarios_in_both_files(tmp_path, capsys):
    assert _compare(tmp_path, _record({"a": 100.0, "gone": 1.0}), _record({"a": 100.0, "new": 1e9})) == 0
    out = capsys.readouterr().out
    assert "in one file only" in out and "gone" in out and "new" in out


def test_compare_notes_a_different_machine(tmp_path, capsys):
    assert _compare(tmp_path, _record({"a": 100.0}), _record({"a": 100.0}, cpu="Other CPU")) == 0
    assert "different CPUs" in capsys.readouterr().out


def test_compare_refuses_files_with_nothing_to_compare(tmp_path):
    # A regression gate that compared nothing must not pass: no common scenario is an error,
    # and so is a scenario without native figures (a --throughput file has none).
    a, b = _write(tmp_path, "a.json", _record({"a": 1.0})), _write(tmp_path, "b.json", _record({"b": 1.0}))
    with pytest.raises(ValueError, match="^--compare: no scenario appears in both files"):
        benchmark.main(["--compare", a, b])
    broken = _record({"a": 1.0})
    del broken["scenarios"]["a"]["native"]["p99"]
    with pytest.raises(ValueError, match="scenario a has no native p50 and p99"):
        benchmark.main(["--compare", a, _write(tmp_path, "broken.json", broken)])


def test_compare_refuses_a_file_that_is_not_a_record(tmp_path):
    good = _write(tmp_path, "good.json", _record({"a": 1.0}))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not a benchmark JSON"):
        benchmark.main(["--compare", good, str(bad)])
    bad.write_text(json.dumps({"hello": 1}))
    with pytest.raises(ValueError, match="no 'scenarios'"):
        benchmark.main(["--compare", good, str(bad)])


def test_cli_wires_bench_and_reports_errors_as_exit_2(tmp_path, capsys):
    from ranker import cli

    old = _write(tmp_path, "old.json", _record({"a": 100.0}))
    new = _write(tmp_path, "new.json", _record({"a": 200.0}))
    assert cli.main(["bench", "--compare", old, new]) == 1
    assert cli.main(["bench", "--compare", old, str(tmp_path / "missing.json")]) == 2
    assert cli.main(["bench", "--scenario", "no-such-scenario"]) == 2
    assert "unknown no-such-scenario" in capsys.readouterr().err


def test_list_names_every_scenario(capsys):
    from ranker.synthetic import SCENARIOS

    assert benchmark.main(["--list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in SCENARIOS)


# --- a tiny real run ----------------------------------------------------------------------


def test_tiny_latency_run_writes_json(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(benchmark_root())
    out_file = tmp_path / "run.json"
    code = benchmark.main(["--scenario", "feed-200-none", "--requests", "200", "--warmup", "20", "--pool", "4",
                           "--baseline-requests", "20", "--json", str(out_file)])
    assert code == 0
    text = capsys.readouterr().out
    assert "feed-200-none" in text and "p99 us" in text and "x p99" in text and "floor p99" in text
    record = json.loads(out_file.read_text())
    assert record["schema"] == benchmark.SCHEMA
    env = record["environment"]
    assert env["cores"] >= 1 and env["cpu_model"] and env["numpy"] == np.__version__
    assert env["ranker"] and env["python"] and "simd_level" in env and "git_revision" in env
    fig = record["scenarios"]["feed-200-none"]
    nat = fig["native"]
    assert nat["requests"] == 200 and 0 < nat["p50"] <= nat["p99"] <= nat["p999"] <= nat["max"]
    assert nat["rps"] > 0
    assert len(nat["request_p50"]) == 4 and all(0 < m <= nat["max"] for m in nat["request_p50"])
    assert nat["request_spread"] == pytest.approx(max(nat["request_p50"]) / min(nat["request_p50"]))
    assert nat["floor"]["requests"] == 200
    row = next(line for line in text.splitlines() if line.startswith("feed-200-none"))
    assert row.split()[5] == benchmark._fmt(nat["floor_p99"])  # the table's floor column is the JSON's
    assert "spread" in text
    assert fig["baseline"]["requests"] == 20 and fig["agreement"] in ("identical", "ties")
    assert set(fig["ratio"]) == {"p50", "p99", "p999", "max"}
    # A run compared with itself is no regression.
    assert benchmark.main(["--compare", str(out_file), str(out_file)]) == 0


def test_missing_default_baseline_reports_native_only_but_a_named_one_is_an_error(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # bench/numpy_baseline.py is not found from here
    code = benchmark.main(["--scenario", "feed-200-none", "--requests", "50", "--warmup", "5", "--pool", "2"])
    assert code == 0
    out = capsys.readouterr().out
    assert "baseline not found" in out and "x p99" not in out
    with pytest.raises(ValueError, match="^--baseline: no file at .*nope.py"):
        benchmark.main(["--scenario", "feed-200-none", "--requests", "50", "--baseline", str(tmp_path / "nope.py")])


def test_an_unwritable_json_path_is_refused_before_timing(tmp_path, capsys):
    with pytest.raises(ValueError, match="^--json: the folder .*missing-dir does not exist"):
        benchmark.main(["--scenario", "feed-200-none", "--requests", "50", "--baseline-requests", "0",
                        "--json", str(tmp_path / "missing-dir" / "run.json")])
    assert "latency" not in capsys.readouterr().out  # nothing was timed


def test_no_floor_skips_the_probe(tmp_path, capsys):
    out_file = tmp_path / "run.json"
    assert benchmark.main(["--scenario", "feed-200-none", "--requests", "20", "--warmup", "2", "--pool", "2",
                           "--baseline-requests", "0", "--no-floor", "--json", str(out_file)]) == 0
    assert "floor p99" not in capsys.readouterr().out
    assert "floor" not in json.loads(out_file.read_text())["scenarios"]["feed-200-none"]["native"]


def test_tiny_throughput_run(capsys):
    code = benchmark.main(["--throughput", "--scenario", "feed-200-none", "--batch", "16", "--repeat", "1",
                           "--pool", "4"])
    assert code == 0
    out = capsys.readouterr().out
    assert "rank_batch" in out and "python_threads" in out and "efficiency" in out


def test_bad_counts_are_refused():
    with pytest.raises(ValueError, match="--requests"):
        benchmark.main(["--scenario", "feed-200-none", "--requests", "0"])


def benchmark_root():
    """The repository root, where the default --baseline path (bench/numpy_baseline.py) resolves."""
    from pathlib import Path

    return Path(__file__).resolve().parent.parent


def test_git_revision_comes_from_the_checkout_the_package_runs_from(tmp_path, monkeypatch):
    import re
    from pathlib import Path

    monkeypatch.chdir(tmp_path)  # not a git checkout
    package = Path(benchmark.__file__).resolve().parent
    revision = benchmark.git_revision()
    if "site-packages" in package.parts:  # an installed copy: its checkout is unknown
        assert revision is None
    else:  # an editable install: the checkout holding the package
        assert revision is not None and re.fullmatch(r"[0-9a-f]{40}", revision)
