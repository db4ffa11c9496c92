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


# --- --compare ----------------------------------------------------------------------------


def _record(p99s: dict, cpu: str = "Test CPU") -> dict:
    return {
        "schema": benchmark.SCHEMA,
        "environment": {"cpu_model": cpu, "cores": 2, "ranker": "0.1.0", "git_revision": "abc"},
        "scenarios": {name: {"n": 1000, "d": 64, "native": {"p50": p99 / 2, "p99": p99, "p999": p99 * 1.5,
                                                             "max": p99 * 3}}
                      for name, p99 in p99s.items()},
    }


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
    assert "feed-200-none" in text and "p99 us" in text and "x p99" in text
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
    assert "spread" in text
    assert fig["baseline"]["requests"] == 20 and fig["agreement"] in ("identical", "ties")
    assert set(fig["ratio"]) == {"p50", "p99", "p999", "max"}
    # A run compared with itself is no regression.
    assert benchmark.main(["--compare", str(out_file), str(out_file)]) == 0


def test_missing_baseline_reports_native_only(tmp_path, capsys):
    code = benchmark.main(["--scenario", "feed-200-none", "--requests", "50", "--warmup", "5", "--pool", "2",
                           "--baseline", str(tmp_path / "nope.py")])
    assert code == 0
    out = capsys.readouterr().out
    assert "baseline not found" in out and "x p99" not in out


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
