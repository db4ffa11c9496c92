"""The NumPy baseline (bench/numpy_baseline.py) on the same requests as the native suite."""

from __future__ import annotations

import pytest

from ranker.synthetic import SCENARIOS

from benchutil import rank_one_per_call


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_numpy_baseline_rank(benchmark, baseline, scenario_pool, name):
    result, policy = rank_one_per_call(benchmark, scenario_pool, name, baseline.rank)
    assert result.status == 0 and len(result) == policy.k
