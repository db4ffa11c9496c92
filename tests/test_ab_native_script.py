"""scripts/ab_native.py, the paired-round comparison of two native builds: each child process
must import the build it is given (not the installed one), the builds take turns in blocks, and
the report has one row of ratios per scenario. Timings themselves are not checked here."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

import ranker._native

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts", "ab_native.py")
BUILD = ranker._native.__file__


def run_script(*args: str, calls: str = "5") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, SCRIPT, *args, "--scenario", "feed-200-none", "--rounds", "1",
                           "--calls", calls], capture_output=True, text=True, timeout=300)


def load_script():
    spec = importlib.util.spec_from_file_location("ab_native", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("calls, block", [(5, 64), (128, 64), (130, 64), (7, 2), (1, 1)])
def test_the_builds_take_turns_in_blocks(calls, block):
    order = load_script().turns(calls, block)
    for who in (0, 1):
        assert sum(size for w, size in order if w == who) == calls
    assert all(1 <= size <= block for _, size in order)
    pairs = [order[i:i + 2] for i in range(0, len(order), 2)]
    assert all(a[1] == b[1] and {a[0], b[0]} == {0, 1} for a, b in pairs)  # each block by both, same size
    assert [a[0] for a, _ in pairs] == [n % 2 for n in range(len(pairs))]  # old first, then new first, ...


def test_a_child_runs_the_build_it_is_given(tmp_path):
    # Were the children to import the installed module, this file would never be loaded and the
    # run would succeed.
    broken = tmp_path / "broken.so"
    broken.write_bytes(b"not a shared object")
    result = run_script(str(broken), BUILD)
    assert result.returncode != 0


def test_the_same_build_twice_gives_one_row_of_ratios():
    result = run_script(BUILD, BUILD, "--block", "2", calls="7")
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith("feed-200-none")]
    assert len(rows) == 1
    old_p50, new_p50, p50_ratio = (float(x) for x in rows[0][1:4])
    assert old_p50 > 0 and new_p50 > 0
    assert abs(p50_ratio - new_p50 / old_p50) < 0.01 * p50_ratio + 1e-3


def test_a_missing_build_is_refused_by_name(tmp_path):
    missing = str(tmp_path / "nothing.so")
    result = run_script(missing, BUILD)
    assert result.returncode == 2
    assert "no such build" in result.stderr and missing in result.stderr
