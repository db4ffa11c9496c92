"""Shared fixtures of the pytest-benchmark suites (``pytest bench/``).

Every suite times the same pre-built requests of one named scenario (``ranker.synthetic``,
fixed seeds), so native, NumPy baseline and reference figures in one group are directly
comparable. ``pytest bench/ --benchmark-disable`` runs each benchmark once, as a smoke test,
on a pool of one request per scenario; that is what CI runs, so the suites cannot rot.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from ranker.synthetic import SCENARIOS

BASELINE_PATH = Path(__file__).resolve().parent / "numpy_baseline.py"

#: Distinct requests per scenario that a timed benchmark cycles through.
POOL = 16


def _load_baseline():
    spec = importlib.util.spec_from_file_location("ranker_bench_numpy_baseline", BASELINE_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def baseline():
    return _load_baseline()


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
