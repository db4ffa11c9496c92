"""Helpers the benchmark suites import (a module of its own: ``conftest`` is a name that
tests/ uses too, so importing from it could pick up the wrong one)."""

from __future__ import annotations

import itertools





def cycling(pool):
    """A zero-argument callable source of the pool's requests, round robin."""
    return itertools.cycle(pool).__next__
