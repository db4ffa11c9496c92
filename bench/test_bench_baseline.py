"""The NumPy baseline (bench/numpy_baseline.py) on the same requests as the native suite."""

from __future__ import annotations

import pytest

from ranker.synthetic import SCENARIOS

from benchutil import cycling


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_numpy_baseline_rank(benchmark, baseline, scenario_pool, name):
    policy, pool = scenario_pool(name)
    benchmark.group = name
    benchmark.extra_info["n"] = SCENARIOS[name].n
    next_request = cycling(pool)

    def one():
        cands, user = next_request()
        return baseline.rank(cands, user, policy)

    result = benchmark(one)
    assert result.status == 0 and len(result) == policy.k
