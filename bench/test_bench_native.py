"""The native backend: one ``rank()`` per call on every scenario, and ``rank_batch`` scaling."""

from __future__ import annotations

import pytest

import ranker
from ranker.synthetic import SCENARIOS

from benchutil import rank_one_per_call



@pytest.mark.parametrize("name", list(SCENARIOS))
def test_native_rank(benchmark, scenario_pool, name):
    result, policy = rank_one_per_call(benchmark, scenario_pool, name, ranker.rank)
    assert result.status == ranker.Status.OK and len(result) == policy.k


@pytest.mark.parametrize("threads", [1, 2])
def test_native_rank_batch(benchmark, scenario_pool, threads):
    """256 feed-1k MMR requests per call; compare the two rows for the scaling."""
    policy, pool = scenario_pool("feed-1k-mmr")
    batch = [pool[n % len(pool)] for n in range(256)]
    benchmark.group = "rank_batch feed-1k-mmr x256"
    benchmark.extra_info["threads"] = threads
    results = benchmark(ranker.rank_batch, batch, policy, threads=threads)
    assert len(results) == len(batch) and all(len(r) == policy.k for r in results)
