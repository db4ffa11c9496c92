"""Paired rounds: two builds of the native module, alternated, on the benchmark's requests.

    python scripts/ab_native.py OLD.so NEW.so [--scenario feed-1k-mmr ...] [--rounds 12]
                                [--calls 1280]

Timings on a shared machine drift by a third within minutes, so one run of `ranker bench` per
build cannot show a change of a few percent. Here each round runs one child process per build,
one after the other; a child imports ranker from a private copy of this checkout's
python/ranker holding that build's `_native` module, builds the scenario's 64 requests
in-process (as `ranker bench` does: a process that loads pickled requests instead keeps
glibc's default malloc thresholds and pays page faults the benchmark never sees), ranks each
once, then times `--calls` calls cycling through them. The report is, per scenario, the median
over rounds of the per-round ratio NEW / OLD of p50 and of p99 (below 1: NEW is faster), with
the smallest and largest single ratio.

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
from typing import Dict, List, Sequence

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(REPO, "python", "ranker")


def child(scenario: str, calls: int, parent: str) -> None:
    # An editable install puts a finder ahead of sys.path that always returns the checkout's
    # build; without it, the private copy on PYTHONPATH is the one imported.
    sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "ScikitBuildRedirectingFinder"]
    import ranker._native
    if not os.path.abspath(ranker._native.__file__).startswith(os.path.abspath(parent) + os.sep):
        raise SystemExit(f"imported {ranker._native.__file__}, not the build under {parent}")
    from ranker import rank
    from ranker.benchmark import summarize
    from ranker.synthetic import SCENARIOS

    spec = SCENARIOS[scenario]
    pool = spec.build(64)
    policy = spec.policy()
    for c, u in pool:
        rank(c, u, policy)
    samples: List[int] = []
    clock = time.perf_counter_ns
    for n in range(calls):
        c, u = pool[n % len(pool)]
        t0 = clock()
        rank(c, u, policy)
        samples.append(clock() - t0)
    figures = summarize(samples)
    print(f"{figures['p50']:.3f} {figures['p99']:.3f}")


def private_package(build: str, into: str) -> str:
    """A copy of python/ranker with `build` as its native module; returns the folder to put on
    PYTHONPATH."""
    target = os.path.join(into, "ranker")
    shutil.copytree(PACKAGE, target, ignore=shutil.ignore_patterns("__pycache__", "_native*.so", "_native*.pyd"))
    shutil.copy2(build, os.path.join(target, "_native" + importlib.machinery.EXTENSION_SUFFIXES[0]))
    return into


def time_build(parent: str, scenario: str, calls: int) -> List[float]:
    env = dict(os.environ, PYTHONPATH=parent + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", scenario, "--calls", str(calls),
                          "--parent", parent], env=env, check=True, capture_output=True, text=True).stdout.split()
    return [float(x) for x in out]


def paired(parents: Sequence[str], scenario: str, rounds: int, calls: int) -> Dict[str, object]:
    """Per round, the old build's child then the new one's; the medians of the ratios."""
    per_round = []
    for r in range(rounds):
        old = time_build(parents[0], scenario, calls)
        new = time_build(parents[1], scenario, calls)
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
    parser.add_argument("--child", metavar="SCENARIO", help=argparse.SUPPRESS)
    parser.add_argument("--parent", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.calls, args.parent)
        return 0
    if not args.old or not args.new:
        parser.error("two builds are needed: OLD.so NEW.so")
    for path in (args.old, args.new):
        if not os.path.isfile(path):
            parser.error(f"no such build: {path}")
    if args.rounds < 1 or args.calls < 1:
        parser.error("--rounds and --calls must be at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        parents = [private_package(b, os.path.join(tmp, name)) for b, name in ((args.old, "old"), (args.new, "new"))]
        print(f"{'scenario':<20} {'old p50':>9} {'new p50':>9} {'p50 new/old':>12} {'range':>11} "
              f"{'p99 new/old':>12} {'range':>11}")
        for scenario in args.scenario or ["feed-1k-mmr"]:
            s = paired(parents, scenario, args.rounds, args.calls)
            print(f"{scenario:<20} {s['old_p50']:>9.1f} {s['new_p50']:>9.1f} {s['p50']:>12.3f} "
                  f"{s['p50_range'][0]:>5.2f}-{s['p50_range'][1]:<5.2f} {s['p99']:>12.3f} "
                  f"{s['p99_range'][0]:>5.2f}-{s['p99_range'][1]:<5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
