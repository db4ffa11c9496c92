"""Helpers the benchmark suites import (a module of its own: ``conftest`` is a name that
tests/ uses too, so importing from it could pick up the wrong one)."""

from __future__ import annotations

import itertools


def cycling(pool):
    """A zero-argument callable source of the pool's requests, round robin."""
    return itertools.cycle(pool).__next__


def rank_one_per_call(benchmark, scenario_pool, name, rank):
    """Times ``rank(candidates, user, policy)`` on the scenario's requests, one per call, round
    robin; returns the last result and the policy."""
    policy, pool = scenario_pool(name)
    benchmark.group = name
    benchmark.extra_info["n"] = pool[0][0].n
    next_request = cycling(pool)

    def one():
        cands, user = next_request()
        return rank(cands, user, policy)

    return benchmark(one), policy
