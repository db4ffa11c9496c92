"""Paired rounds: two builds of the native module, interleaved, on the benchmark's requests.

    python scripts/ab_native.py OLD.so NEW.so [--scenario feed-1k-mmr ...] [--rounds 12]
                                [--calls 1280] [--block 64]

Timings on a shared machine drift by a third within minutes, so one run of `ranker bench` per
build cannot show a change of a few percent. Here each build gets one child process per
scenario and round; a child imports ranker from a private copy of this checkout's python/ranker holding
that build's `_native` module, builds the scenario's 64 requests in-process (as `ranker bench`
does: a process that loads pickled requests instead keeps glibc's default malloc thresholds and
pays page faults the benchmark never sees) and ranks each once. Then the two children take
turns: `--block` timed calls by one, then by the other (in the order old new, new old, ...),
until each has made `--calls` in the round, so both builds are timed within the same few
tens of milliseconds of the machine's drift. The report is, per scenario, the median over
rounds of the per-round ratio NEW / OLD of p50 and of p99 (below 1: NEW is faster), with the
smallest and largest single ratio.

Each build is the compiled module of one revision: after `pip install -e . --no-build-isolation`
at that revision, copy the file that `python -c "import ranker._native as m; print(m.__file__)"`
names. The two must come from the same Python (same file name suffix).
"""

from __future__ import annotations

import argparse
import importlib.machinery
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Sequence, Tuple

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(REPO, "python", "ranker")


def child(scenario: str, parent: str) -> None:
    """Build the scenario's requests, rank each once, then answer each line "N" on stdin with
    the times of the next N calls (nanoseconds, one line), cycling through the requests."""
    # An editable install puts a finder ahead of sys.path that always returns the checkout's
    # build; without it, the private copy on PYTHONPATH is the one imported.
    sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "ScikitBuildRedirectingFinder"]
    import ranker._native
    if not os.path.abspath(ranker._native.__file__).startswith(os.path.abspath(parent) + os.sep):
        raise SystemExit(f"imported {ranker._native.__file__}, not the build under {parent}")
    from ranker import rank
    from ranker.synthetic import SCENARIOS

    spec = SCENARIOS[scenario]
    pool = spec.build(64)
    policy = spec.policy()
    for c, u in pool:
        rank(c, u, policy)
    print("ready", flush=True)
    clock = time.perf_counter_ns
    n = 0
    for line in sys.stdin:
        count = int(line)
        samples = [0] * count
        for s in range(count):
            c, u = pool[n % len(pool)]
            n += 1
            t0 = clock()
            rank(c, u, policy)
            samples[s] = clock() - t0
        print(" ".join(map(str, samples)), flush=True)


def private_package(build: str, into: str) -> str:
    """A copy of python/ranker with `build` as its native module; returns the folder to put on
    PYTHONPATH."""
    target = os.path.join(into, "ranker")
    shutil.copytree(PACKAGE, target, ignore=shutil.ignore_patterns("__pycache__", "_native*.so", "_native*.pyd"))
    shutil.copy2(build, os.path.join(target, "_native" + importlib.machinery.EXTENSION_SUFFIXES[0]))
    return into


class Child:
    """One build's child process, driven over its stdin and stdout."""

    def __init__(self, parent: str, scenario: str) -> None:
        env = dict(os.environ, PYTHONPATH=parent + os.pathsep + os.environ.get("PYTHONPATH", ""))
        env.setdefault("OPENBLAS_NUM_THREADS", "1")
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child", scenario,
                                      "--parent", parent], env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)

    def wait_ready(self) -> None:
        self._read_line("ready")

    def _read_line(self, what: str) -> str:
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            raise SystemExit(f"a child process exited (status {code}) before it was {what}")
        return line

    def time_calls(self, count: int) -> List[int]:
        self.proc.stdin.write(f"{count}\n")
        return [int(x) for x in self._read_line("done timing").split()]

    def close(self) -> None:
        self.proc.stdin.close()  # the child's loop over stdin ends, and it exits
        self.proc.wait()


def turns(calls: int, block: int) -> List[Tuple[int, int]]:
    """(build, calls) in the order the two builds take turns, 0 = old, 1 = new: blocks of at
    most `block` calls, old new, new old, old new, ... (so neither build always goes first),
    until each has made `calls`."""
    out: List[Tuple[int, int]] = []
    done = 0
    while done < calls:
        size = min(block, calls - done)
        out.extend((who, size) for who in ((0, 1) if len(out) % 4 == 0 else (1, 0)))
        done += size
    return out


def paired(parents: Sequence[str], scenario: str, rounds: int, calls: int, block: int) -> Dict[str, object]:
    """Rounds of interleaved blocks, a fresh pair of processes each round (a process's own
    layout in memory moves its times by a few percent, so one pair for all rounds would keep
    that difference); the medians over rounds of the ratios new / old."""
    from ranker.benchmark import percentile  # the harness's nearest rank (no native code needed)

    per_round = []
    for r in range(rounds):
        children: List[Child] = []
        try:
            for parent in parents:
                children.append(Child(parent, scenario))  # both build their requests at once
            for c in children:
                c.wait_ready()
            samples: List[List[int]] = [[], []]
            for who, size in turns(calls, block):
                samples[who].extend(children[who].time_calls(size))
        finally:
            for c in children:
                c.close()
        old, new = ((percentile(s, 50.0) / 1e3, percentile(s, 99.0) / 1e3) for s in samples)
        per_round.append((old, new))
        print(f"  {scenario} round {r + 1}: old p50 {old[0]:.1f} p99 {old[1]:.1f} | "
              f"new p50 {new[0]:.1f} p99 {new[1]:.1f} us", file=sys.stderr)
    p50 = [new[0] / old[0] for old, new in per_round]
    p99 = [new[1] / old[1] for old, new in per_round]
    return {"p50": statistics.median(p50), "p50_range": (min(p50), max(p50)),
            "p99": statistics.median(p99), "p99_range": (min(p99), max(p99)),
            "old_p50": statistics.median(o[0] for o, _ in per_round),
            "new_p50": statistics.median(n[0] for _, n in per_round)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old", nargs="?", help="the baseline build of the native module")
    parser.add_argument("new", nargs="?", help="the build under test")
    parser.add_argument("--scenario", action="append", help="a benchmark scenario (repeatable; default feed-1k-mmr)")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--calls", type=int, default=1280, help="timed calls per build and round")
    parser.add_argument("--block", type=int, default=64, help="calls one build makes before the other's turn")
    parser.add_argument("--child", metavar="SCENARIO", help=argparse.SUPPRESS)
    parser.add_argument("--parent", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.parent)
        return 0
    if not args.old or not args.new:
        parser.error("two builds are needed: OLD.so NEW.so")
    for path in (args.old, args.new):
        if not os.path.isfile(path):
            parser.error(f"no such build: {path}")
    if args.rounds < 1 or args.calls < 1 or args.block < 1:
        parser.error("--rounds, --calls and --block must be at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        parents = [private_package(b, os.path.join(tmp, name)) for b, name in ((args.old, "old"), (args.new, "new"))]
        print(f"{'scenario':<20} {'old p50':>9} {'new p50':>9} {'p50 new/old':>12} {'range':>11} "
              f"{'p99 new/old':>12} {'range':>11}")
        for scenario in args.scenario or ["feed-1k-mmr"]:
            s = paired(parents, scenario, args.rounds, args.calls, args.block)
            print(f"{scenario:<20} {s['old_p50']:>9.1f} {s['new_p50']:>9.1f} {s['p50']:>12.3f} "
                  f"{s['p50_range'][0]:>5.2f}-{s['p50_range'][1]:<5.2f} {s['p99']:>12.3f} "
                  f"{s['p99_range'][0]:>5.2f}-{s['p99_range'][1]:<5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
