"""The pure-Python reference, on the small scenarios only (it is the spec, not a fast path:
about a second per feed-1k request)."""

from __future__ import annotations

import pytest

import ranker

from benchutil import cycling

SMALL = ["feed-200-none", "feed-200-mmr", "feed-200-dpp"]


@pytest.mark.parametrize("name", SMALL)
def test_reference_rank(benchmark, scenario_pool, name):
    policy, pool = scenario_pool(name)
    benchmark.group = name
    next_request = cycling(pool)

    def one():
        cands, user = next_request()
        return ranker.rank(cands, user, policy, backend="reference")

    # A few rounds are plenty for a function this slow.
    result = benchmark.pedantic(one, rounds=5, iterations=1, warmup_rounds=0)
    assert len(result) == policy.k
