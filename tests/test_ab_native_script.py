"""scripts/ab_native.py, the paired-round comparison of two native builds: each child process
must import the build it is given (not the installed one), and the report has one row of
ratios per scenario. Timings themselves are not checked here."""

from __future__ import annotations

import os
import subprocess
import sys

import ranker._native

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts", "ab_native.py")
BUILD = ranker._native.__file__


def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, SCRIPT, *args, "--scenario", "feed-200-none", "--rounds", "1",
                           "--calls", "5"], capture_output=True, text=True, timeout=300)


def test_a_child_runs_the_build_it_is_given(tmp_path):
    # Were the children to import the installed module, this file would never be loaded and the
    # run would succeed.
    broken = tmp_path / "broken.so"
    broken.write_bytes(b"not a shared object")
    result = run_script(str(broken), BUILD)
    assert result.returncode != 0


def test_the_same_build_twice_gives_one_row_of_ratios():
    result = run_script(BUILD, BUILD)
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
