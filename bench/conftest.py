"""Shared fixtures of the pytest-benchmark suites (``pytest bench/``).

Every suite times the same pre-built requests of one named scenario (``ranker.synthetic``,
fixed seeds), so native, NumPy baseline and reference figures in one group are directly
comparable. ``pytest bench/ --benchmark-disable`` runs each benchmark once, as a smoke test,
on a pool of one request per scenario; that is what CI runs, so the suites cannot rot.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ranker.benchmark import load_baseline
from ranker.synthetic import SCENARIOS

BASELINE_PATH = Path(__file__).resolve().parent / "numpy_baseline.py"

#: Distinct requests per scenario that a timed benchmark cycles through.
POOL = 16


@pytest.fixture(scope="session")
def baseline():
    return load_baseline(str(BASELINE_PATH))


@pytest.fixture(scope="session")
def scenario_pool(request):
    """``scenario_pool(name)`` -> (policy, list of (candidates, user)), built once per session."""
    disabled = request.config.getoption("benchmark_disable", default=False)
    cache: dict = {}

    def get(name: str):
        if name not in cache:
            scenario = SCENARIOS[name]
            cache[name] = (scenario.policy(), scenario.build(1 if disabled else POOL))
        return cache[name]

    return get
