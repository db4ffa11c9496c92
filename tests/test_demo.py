"""``ranker demo`` on a small request: every user section is printed, the late minor gets the
curfew, and (with the native module built) every comparison is equivalent, exit code 0."""

from __future__ import annotations

import argparse
import re

import pytest

from ranker import demo




def run_demo(capsys, *argv):
    parser = argparse.ArgumentParser(prog="ranker demo")
    demo.add_arguments(parser)
    rc = demo.run(parser.parse_args(list(argv)))
    return rc, capsys.readouterr().out


def sections(out):
    """Section title -> its text, split at the '== N. title ===' headings."""
    parts = re.split(r"^== \d+\. (.+?) =+$", out, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2]))


def check_sections(out):
    found = sections(out)
    assert list(found) == list(demo.TITLES)
    assert "status: CURFEW" in found["minor at 23:00 (curfew)"]
    for title in demo.TITLES:
        if title != "minor at 23:00 (curfew)":
            assert "status: OK" in found[title], title
            assert "  slot    item id" in found[title], title
    assert "deleted_tag" in found["tags deleted"]
    assert "non_personalized" in found["opted out"]
    assert "minor_age" in found["minor at 21:00"]
    assert "price action clamp" in found["price disparity, action clamp"]
    for line in out.splitlines():
        assert len(line) <= 100, line
    return found


def test_demo_native_agrees_with_reference(capsys):
    rc, out = run_demo(capsys, "--n", "150", "--k", "4", "--seed", "3")
    found = check_sections(out)
    for title, text in found.items():
        assert "native vs reference: equivalent" in text, title
    assert "summary: 7 of 7 requests equivalent" in out
    assert rc == 0


def test_demo_on_the_reference_backend(capsys):
    """The demo runs with the reference as its primary backend and still compares."""
    rc, out = run_demo(capsys, "--n", "80", "--k", "3", "--backend", "reference", "--method", "dpp")
    check_sections(out)
    assert rc == 0 and "equivalent" in out


def test_demo_handles_tiny_requests(capsys):
    rc, out = run_demo(capsys, "--n", "1", "--k", "2", "--backend", "reference", "--d", "3")
    assert "== 7. price disparity, action clamp" in out
    assert rc == 0


def test_demo_refuses_bad_options(capsys):
    with pytest.raises(ValueError, match="--n"):
        run_demo(capsys, "--n", "-1", "--backend", "reference")
    for rate in ("2", "-1", "nan"):
        with pytest.raises(ValueError, match="--price-off-rate is a share in"):
            run_demo(capsys, "--n", "5", "--price-off-rate", rate)


def test_a_closed_pipe_ends_the_command_quietly():
    # `ranker demo | head -1`: the reader has gone when the output is written (here before the
    # command starts, so that the write fails whatever the timing); no traceback follows.
    import os
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run([sys.executable, "-m", "ranker.cli", "demo", "--n", "5", "--d", "3"],
                              stdout=write_end, stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(write_end)
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert "Traceback" not in err and "Broken pipe" not in err
