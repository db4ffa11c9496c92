"""``ranker bench``: per-request latency of the native backend against a NumPy baseline.

What a feed team tracks is tail latency of one ``rank()`` call on one thread, so that is what
this measures: for each named scenario of :mod:`ranker.synthetic` (fixed seeds, so every run
ranks the same requests), a pool of distinct pre-built requests is cycled through, first for a
warm-up, then for ``--requests`` timed calls, each timed on its own with
``time.perf_counter_ns``. It reports p50, p99, p99.9 and the maximum in microseconds, requests
per second, the spread of the pool's requests (the slowest request's median over the fastest's),
and the ratio of each figure to the NumPy baseline (``bench/numpy_baseline.py``: the same
pipeline written the way a skilled NumPy user would) measured in the same run on the same
requests.

Between the timed calls it times fixed work (:func:`spin`) calibrated to last as long as the
native p50, and reports ``floor p99``: that p50 plus the probe's own p99 over its p50, the tail
this machine adds to any work of that length over the same seconds (interrupts, other guests,
frequency changes). A p99 close to its floor leaves little for the code to win on that machine;
``--no-floor`` skips the probe.

``--json FILE`` writes the figures with what they were measured on (CPU model, cores, Python,
NumPy, package version, SIMD level, git revision); ``--compare OLD.json NEW.json`` prints the
change per scenario and exits 1 when any p99 grew by more than ``--threshold`` (10%).
``--throughput`` measures ``rank_batch`` on 1, 2 (and all) threads, and Python threads each
calling ``rank()`` (which releases the GIL), with the scaling efficiency of each.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import math
import os
import platform
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

#: The percentiles reported, as (JSON key, percent).
PERCENTILES = (("p50", 50.0), ("p99", 99.0), ("p999", 99.9))
#: Figures compared between runs and against the baseline.
FIGURES = ("p50", "p99", "p999", "max")
#: Version of the JSON layout (bump when a key changes meaning).
SCHEMA = 1
DEFAULT_BASELINE = os.path.join("bench", "numpy_baseline.py")
#: Timed calls between two recalibrations of the floor probe.
RECALIBRATE = 64


# ------------------------------------------------------------------------------------------
# Statistics: pure functions, unit-tested in tests/test_benchmark_harness.py.


def percentile(samples: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile: the smallest sample with at least ``q`` percent of
    the samples at or below it (``numpy.percentile(..., method="inverted_cdf")``).

    Always one of the samples, never an interpolation, so a p99 of 10,000 timings is the
    9,900th smallest. ``q`` is in [0, 100]; 0 gives the minimum. The rank is computed in exact
    arithmetic, so 99.9 of 1,000 samples is the 999th, not the 1,000th by rounding.
    """
    values = sorted(samples)
    if not values:
        raise ValueError("percentile: no samples")
    if not 0.0 <= q <= 100.0 or math.isnan(q):
        raise ValueError(f"percentile: q must be in [0, 100], got {q}")
    rank = math.ceil(Fraction(str(q)) * len(values) / 100)
    return values[max(rank, 1) - 1]


def summarize(samples_ns: Sequence[int], wall_s: Optional[float] = None) -> Dict[str, float]:
    """Latency figures in microseconds from per-call timings in nanoseconds.

    ``rps`` is requests per second over the whole timed loop (``wall_s``, which includes the
    loop's own overhead), or over the sum of the timings when no wall time is given."""
    if not samples_ns:
        raise ValueError("summarize: no samples")
    values = sorted(samples_ns)
    out: Dict[str, float] = {"requests": len(values)}
    for key, q in PERCENTILES:
        out[key] = percentile(values, q) / 1e3
    out["max"] = values[-1] / 1e3
    out["min"] = values[0] / 1e3
    out["mean"] = sum(values) / len(values) / 1e3
    total = wall_s if wall_s is not None else sum(values) / 1e9
    out["rps"] = len(values) / total if total > 0 else float("inf")
    return out


def request_p50s(samples_ns: Sequence[int], pool_size: int) -> List[Optional[float]]:
    """The median of each request's own calls, in microseconds, for timings taken cycling through
    a pool (call n ranked request n % pool_size); None for a request that was never timed.

    Their spread tells what sets a p99: a wide one (some requests need much more work than
    others) points at the code, a narrow one at the machine.
    """
    if pool_size < 1:
        raise ValueError(f"request_p50s: pool_size must be at least 1, got {pool_size}")
    return [percentile(samples_ns[r::pool_size], 50.0) / 1e3 if r < len(samples_ns) else None
            for r in range(pool_size)]


def ratios(baseline: Mapping[str, float], native: Mapping[str, float]) -> Dict[str, float]:
    """How many times slower the baseline is, per figure (baseline / native)."""
    return {key: baseline[key] / native[key] if native[key] > 0 else float("inf") for key in FIGURES}


def tail_us(figures: Mapping[str, float]) -> float:
    """How far p99 sits above p50, in microseconds."""
    return figures["p99"] - figures["p50"]


def floor_p99(native: Mapping[str, Any]) -> float:
    """The p99 this machine gave work that always takes the native p50: that p50 plus how far
    the floor probe's p99 sat above its own p50 (the machine adds to a tail, it does not scale
    it, so a probe a little shorter or longer than the p50 still measures it)."""
    return native["p50"] + tail_us(native["floor"])


# ------------------------------------------------------------------------------------------
# The machine and the build, for the JSON record.


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def git_revision() -> Optional[str]:
    """The checkout the package runs from (an editable install), else the current directory's."""
    package = Path(__file__).resolve().parent
    places = ([] if "site-packages" in package.parts else [package]) + [Path.cwd()]
    for place in places:
        try:
            out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                                 cwd=place)
        except (OSError, subprocess.SubprocessError):
            continue
        rev = out.stdout.strip()
        if out.returncode == 0 and rev:
            return rev
    return None


def simd_level() -> Optional[str]:
    try:
        from . import _native
    except ImportError:
        return None
    fn = getattr(_native, "simd_level", None)
    return str(fn()) if fn is not None else None


def environment() -> Dict[str, Any]:
    import numpy as np

    from . import __version__

    return {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "ranker": __version__,
        "simd_level": simd_level(),
        "git_revision": git_revision(),
    }


# ------------------------------------------------------------------------------------------
# Loading the baseline (it lives in bench/, outside the package, on purpose).


def load_baseline(path: str) -> ModuleType:
    """Import ``bench/numpy_baseline.py`` (or another file with a compatible ``rank``) by path."""
    spec = importlib.util.spec_from_file_location("ranker_bench_numpy_baseline", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import the baseline from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    if not callable(getattr(module, "rank", None)):
        raise ImportError(f"{path} has no rank(candidates, user, policy) function")
    return module


# ------------------------------------------------------------------------------------------
# Timing.


def spin(iterations: int) -> None:
    """Fixed work that touches no data and allocates nothing: the probe for the machine's share
    of a tail. Any time one call of it takes beyond its usual is the machine's (a timer or
    device interrupt, the hypervisor running another guest, a frequency change), not code's."""
    for _ in range(iterations):
        pass


def spin_iterations(target_ns: float, median_ns: Callable[[int], float], first_guess: int = 256,
                    steps: int = 3) -> int:
    """Iterations of :func:`spin` whose median time is about ``target_ns``: start from
    ``first_guess`` and rescale by target / measured, ``steps`` times (the cost is close to
    linear in the iterations, so three steps land within a few percent).
    ``median_ns(iterations)`` measures; tests pass a model instead of a clock."""
    if not target_ns > 0:
        raise ValueError(f"spin_iterations: target_ns must be > 0, got {target_ns}")
    iterations = max(1, first_guess)
    for _ in range(steps):
        measured = median_ns(iterations)
        if measured <= 0:  # below the clock's resolution: try much more work
            iterations *= 16
            continue
        iterations = max(1, round(iterations * target_ns / measured))
    return iterations


def _spin_median_ns(iterations: int, runs: int = 31) -> float:
    clock = time.perf_counter_ns
    times = []
    for _ in range(runs):
        t0 = clock()
        spin(iterations)
        times.append(clock() - t0)
    return percentile(times, 50.0)


def time_calls(fn: Callable[[Any, Any, Any], Any], pool: Sequence[tuple], policy: Any, count: int,
               warmup: int, floor: bool = False) -> Dict[str, Any]:
    """Call ``fn(candidates, user, policy)`` ``warmup`` times, then ``count`` timed times, cycling
    through ``pool``; each call is timed on its own. Returns :func:`summarize`'s figures, each
    request's median (``request_p50``) and the slowest of those over the fastest
    (``request_spread``).

    With ``floor``, each timed call is followed by a timed :func:`spin` calibrated to the
    warm-up calls' median and rescaled every ``RECALIBRATE`` calls to their recent median;
    ``floor`` holds that probe's figures (the tail that fixed work of the same length had on
    this machine over the same seconds) and ``floor_p99`` the column :func:`floor_p99`.
    ``rps`` leaves the probe's time out."""
    if count < 1:
        raise ValueError(f"requests: must be at least 1, got {count}")
    size = len(pool)
    clock = time.perf_counter_ns
    warm = []
    for n in range(warmup):
        c, u = pool[n % size]
        t0 = clock()
        fn(c, u, policy)
        warm.append(clock() - t0)
    iterations = 0
    if floor:
        if not warm:  # no warm-up to calibrate on: time one call of each request
            for c, u in pool:
                t0 = clock()
                fn(c, u, policy)
                warm.append(clock() - t0)
        iterations = spin_iterations(max(percentile(warm, 50.0), 1.0), _spin_median_ns)
    samples = [0] * count
    probes = [0] * count if floor else []
    gc.collect()
    start = clock()
    for n in range(count):
        c, u = pool[n % size]
        t0 = clock()
        fn(c, u, policy)
        t1 = clock()
        samples[n] = t1 - t0
        if floor:
            spin(iterations)
            probes[n] = clock() - t1
            if n % RECALIBRATE == RECALIBRATE - 1:
                # The machine's speed drifts within a run (the probe's own time by a fifth):
                # keep the probe as long as the calls' recent median.
                recent = slice(n + 1 - RECALIBRATE, n + 1)
                iterations = max(1, round(iterations * percentile(samples[recent], 50.0)
                                          / max(percentile(probes[recent], 50.0), 1)))
    wall = (clock() - start - sum(probes)) / 1e9
    out: Dict[str, Any] = summarize(samples, wall)
    medians = request_p50s(samples, size)
    timed = [m for m in medians if m is not None]
    out["request_p50"] = medians
    out["request_spread"] = max(timed) / min(timed) if min(timed) > 0 else float("inf")
    if floor:
        probe = summarize(probes)
        del probe["rps"]
        probe["iterations"] = iterations
        out["floor"] = probe
        out["floor_p99"] = floor_p99(out)
    return out


def _same_outcome(native: Any, other: Any) -> str:
    """'identical', 'ties' (same drops, different order: float ties) or a reason they differ."""
    import numpy as np

    if not np.array_equal(np.asarray(native.drop_codes), np.asarray(other.drop_codes)):
        return "DIFFERENT drop codes"
    if int(native.status) != int(other.status):
        return "DIFFERENT status"
    if np.array_equal(np.asarray(native.indices), np.asarray(other.indices)):
        return "identical"
    if len(native) != len(other):
        return "DIFFERENT number of slots"
    return "ties"


def bench_scenario(scenario: Any, args: argparse.Namespace, baseline: Optional[ModuleType],
                   log: Callable[[str], None]) -> Dict[str, Any]:
    from .api import rank

    policy = scenario.policy()
    pool = scenario.build(args.pool)
    record: Dict[str, Any] = {"n": scenario.n, "d": scenario.d, "kind": scenario.kind, "method": scenario.method,
                              "k": policy.k, "seed": scenario.seed, "pool": len(pool)}
    record["native"] = time_calls(rank, pool, policy, args.requests, args.warmup, floor=args.floor)
    if baseline is not None and args.baseline_requests > 0:
        c, u = pool[0]
        record["agreement"] = _same_outcome(rank(c, u, policy), baseline.rank(c, u, policy))
        if record["agreement"].startswith("DIFFERENT"):
            log(f"warning: {scenario.name}: the baseline's result differs from native "
                f"({record['agreement']}); its timings are not a fair comparison")
        record["baseline"] = time_calls(baseline.rank, pool, policy, args.baseline_requests,
                                        min(args.warmup, max(1, args.baseline_requests // 10)))
        record["ratio"] = ratios(record["baseline"], record["native"])
    if args.reference and scenario.n <= args.reference_max_n:
        def reference_rank(c: Any, u: Any, p: Any) -> Any:
            return rank(c, u, p, backend="reference")

        record["reference"] = time_calls(reference_rank, pool, policy, args.reference, 1)
    return record


def _rank_in_threads(pool: Sequence[tuple], policy: Any, total: int, threads: int) -> float:
    """Wall seconds for ``threads`` Python threads together making ``total`` rank() calls."""
    from .api import rank

    barrier = threading.Barrier(threads + 1)
    errors: List[BaseException] = []
    share = [total // threads + (1 if t < total % threads else 0) for t in range(threads)]

    def work(t: int) -> None:
        try:
            barrier.wait()
            offset = t * 7919
            for n in range(share[t]):
                c, u = pool[(offset + n) % len(pool)]
                rank(c, u, policy)
        except BaseException as exc:  # reported on the calling thread
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    barrier.wait()
    start = time.perf_counter()
    for w in workers:
        w.join()
    wall = time.perf_counter() - start
    if errors:
        raise errors[0]
    return wall


def thread_counts() -> List[int]:
    cores = os.cpu_count() or 1
    counts = [1, 2]
    if cores > 2:
        counts.append(cores)
    return counts


def bench_throughput(scenario: Any, args: argparse.Namespace) -> Dict[str, Any]:
    """Requests per second of rank_batch and of Python threads calling rank(), per thread count."""
    from .api import rank, rank_batch

    policy = scenario.policy()
    pool = scenario.build(args.pool)
    batch = [pool[n % len(pool)] for n in range(args.batch)]
    rank_batch(batch[: min(len(batch), 4 * len(pool))], policy, threads=1)  # warm: native views built
    out: Dict[str, Any] = {"batch": args.batch, "rank_batch": {}, "python_threads": {}}
    for threads in thread_counts():
        best = math.inf
        for _ in range(args.repeat):
            gc.collect()
            t0 = time.perf_counter()
            rank_batch(batch, policy, threads=threads)
            best = min(best, time.perf_counter() - t0)
        out["rank_batch"][str(threads)] = {"seconds": best, "rps": args.batch / best}
    for c, u in pool:
        rank(c, u, policy)
    for threads in thread_counts():
        best = math.inf
        for _ in range(args.repeat):
            gc.collect()
            best = min(best, _rank_in_threads(pool, policy, args.batch, threads))
        out["python_threads"][str(threads)] = {"seconds": best, "rps": args.batch / best}
    for mode in ("rank_batch", "python_threads"):
        one = out[mode]["1"]["rps"]
        for threads, fig in out[mode].items():
            fig["speedup"] = fig["rps"] / one
            fig["efficiency"] = fig["rps"] / (one * int(threads))
    return out


# ------------------------------------------------------------------------------------------
# Tables.


def _fmt(value: Optional[float], digits: int = 1) -> str:
    if value is None:
        return "-"
    if value >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def latency_table(results: Mapping[str, Mapping[str, Any]]) -> str:
    has_base = any("baseline" in r for r in results.values())
    has_floor = any("floor" in r["native"] for r in results.values())
    head = ["scenario", "n", "d", "p50 us", "p99 us"] + (["floor p99"] if has_floor else [])
    head += ["p999 us", "max us", "req/s", "spread"]
    if has_base:
        head += ["numpy p50", "numpy p99", "x p50", "x p99", "x p999"]
    rows = [head]
    for name, r in results.items():
        nat = r["native"]
        row = [name, str(r["n"]), str(r["d"]), _fmt(nat["p50"]), _fmt(nat["p99"])]
        if has_floor:
            row.append(_fmt(floor_p99(nat)) if "floor" in nat else "-")
        row += [_fmt(nat["p999"]), _fmt(nat["max"]), f"{nat['rps']:,.0f}", f"{nat['request_spread']:.1f}x"]
        if has_base:
            if "baseline" in r:
                base, ratio = r["baseline"], r["ratio"]
                row += [_fmt(base["p50"], 0), _fmt(base["p99"], 0), f"{ratio['p50']:.1f}", f"{ratio['p99']:.1f}",
                        f"{ratio['p999']:.1f}"]
            else:
                row += ["-"] * 5
        rows.append(row)
    return _render(rows)


def throughput_table(results: Mapping[str, Mapping[str, Any]]) -> str:
    rows = [["scenario", "mode", "threads", "req/s", "speedup", "efficiency"]]
    for name, r in results.items():
        for mode in ("rank_batch", "python_threads"):
            for threads, fig in r[mode].items():
                rows.append([name, mode, threads, f"{fig['rps']:,.0f}", f"{fig['speedup']:.2f}x",
                             f"{100 * fig['efficiency']:.0f}%"])
    return _render(rows)


def _render(rows: List[List[str]]) -> str:
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [cell.ljust(widths[c]) if c == 0 else cell.rjust(widths[c]) for c, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------
# Comparing two JSON records.


def compare_runs(old: Mapping[str, Any], new: Mapping[str, Any], threshold: float) -> tuple:
    """(table text, list of regressed scenario names): a p99 that grew by more than ``threshold``
    (a fraction: 0.10 = 10%) is a regression."""
    old_s, new_s = old.get("scenarios", {}), new.get("scenarios", {})
    common = [name for name in new_s if name in old_s]
    floors = bool(common) and all("floor" in rec[name]["native"] for rec in (old_s, new_s) for name in common)
    rows = [["scenario", "old p50", "new p50", "change", "old p99", "new p99", "change"]
            + (["floor tail change us"] if floors else []) + [""]]
    regressed, machine = [], []
    for name in common:
        a, b = old_s[name]["native"], new_s[name]["native"]
        d50 = _change(a["p50"], b["p50"])
        d99 = _change(a["p99"], b["p99"])
        verdict = ""
        if d99 > threshold:
            verdict = "REGRESSION"
            regressed.append(name)
        elif d99 < -threshold:
            verdict = "faster"
        row = [name, _fmt(a["p50"]), _fmt(b["p50"]), f"{100 * d50:+.1f}%", _fmt(a["p99"]), _fmt(b["p99"]),
               f"{100 * d99:+.1f}%"]
        if floors:
            # The machine adds to a tail, it does not scale it: compare how far each p99 sits
            # above its own p50, in microseconds.
            floor_growth = tail_us(b["floor"]) - tail_us(a["floor"])
            row.append(f"{floor_growth:+.1f}")
            if verdict == "REGRESSION" and d50 <= threshold and floor_growth >= tail_us(b) - tail_us(a):
                machine.append(name)
        rows.append(row + [verdict])
    text = _render(rows) if common else "no scenario appears in both files"
    if machine:
        text += ("\nnote: in " + ", ".join(machine) + " the median held and the floor's tail (fixed work as long as "
                 "the p50, timed between the calls) grew by as many microseconds as ranker's p99 over its p50: "
                 "most likely the machine, not the code; rerun both on a quiet machine before trusting it")
    only = sorted(set(old_s) ^ set(new_s))
    if only:
        text += "\nin one file only (not compared): " + ", ".join(only)
    for label, rec in (("old", old), ("new", new)):
        env = rec.get("environment", {})
        text += (f"\n{label}: {env.get('cpu_model', '?')}, {env.get('cores', '?')} cores, "
                 f"ranker {env.get('ranker', '?')}, git {str(env.get('git_revision') or '?')[:12]}")
    if old.get("environment", {}).get("cpu_model") != new.get("environment", {}).get("cpu_model"):
        text += "\nnote: the two runs were measured on different CPUs; latency changes may be the machine"
    return text, regressed


def _change(old: float, new: float) -> float:
    """new / old - 1 (0 when old is 0)."""
    return new / old - 1.0 if old > 0 else 0.0


def _read_json(path: str) -> Dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not a benchmark JSON file ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("scenarios"), dict):
        raise ValueError(f"{path}: not a benchmark JSON file (no 'scenarios' table); write one with --json")
    for name, rec in data["scenarios"].items():
        native = rec.get("native") if isinstance(rec, dict) else None
        if not isinstance(native, dict) or not all(isinstance(native.get(f), (int, float)) for f in ("p50", "p99")):
            raise ValueError(f"{path}: scenario {name} has no native p50 and p99; write the file with --json")
    return data


# ------------------------------------------------------------------------------------------
# The command.


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenario", action="append", metavar="NAME",
                        help="a scenario of ranker.synthetic.SCENARIOS (repeatable; default: all)")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument("--requests", type=int, default=10_000, metavar="N",
                        help="timed native rank() calls per scenario (default 10000)")
    parser.add_argument("--warmup", type=int, default=1000, metavar="N",
                        help="untimed calls before timing (default 1000)")
    parser.add_argument("--pool", type=int, default=64, metavar="N",
                        help="distinct pre-built requests cycled through (default 64)")
    parser.add_argument("--no-floor", dest="floor", action="store_false",
                        help="skip the machine's floor: the timed fixed work after each native call "
                             "(halves the native timing's wall time)")
    parser.add_argument("--baseline", default=None, metavar="PATH",
                        help=f"the NumPy baseline to compare with (default {DEFAULT_BASELINE}, "
                             f"relative to the current directory, skipped with a note when missing; "
                             f"a PATH given here must exist)")
    parser.add_argument("--baseline-requests", type=int, default=1000, metavar="N",
                        help="timed baseline calls per scenario (default 1000; 0 = skip the baseline)")
    parser.add_argument("--reference", type=int, default=0, metavar="N",
                        help="also time N calls of the pure-Python reference on small scenarios (default 0)")
    parser.add_argument("--reference-max-n", type=int, default=200, metavar="N",
                        help="largest scenario n the reference is timed on (default 200)")
    parser.add_argument("--json", metavar="FILE", help="write the figures and the environment to FILE")
    parser.add_argument("--compare", nargs=2, metavar=("OLD", "NEW"),
                        help="compare two --json files; exit 1 if a p99 regressed by more than --threshold")
    parser.add_argument("--threshold", type=float, default=0.10,
                        help="p99 regression threshold for --compare, as a fraction (default 0.10)")
    parser.add_argument("--throughput", action="store_true",
                        help="measure rank_batch and Python threads on 1, 2 and all cores instead of latency")
    parser.add_argument("--batch", type=int, default=2000, metavar="N",
                        help="requests per throughput measurement (default 2000)")
    parser.add_argument("--repeat", type=int, default=3, metavar="N",
                        help="throughput measurements per thread count; the best is kept (default 3)")


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    if args.compare:
        if args.threshold < 0:
            raise ValueError(f"--threshold: must be >= 0, got {args.threshold}")
        old, new = (_read_json(p) for p in args.compare)
        if not set(old["scenarios"]) & set(new["scenarios"]):
            # A regression check that compared nothing must not pass.
            raise ValueError(f"--compare: no scenario appears in both files ({args.compare[0]}: "
                             f"{', '.join(old['scenarios']) or 'none'}; {args.compare[1]}: "
                             f"{', '.join(new['scenarios']) or 'none'}); a --throughput file has no latency to compare")
        text, regressed = compare_runs(old, new, args.threshold)
        print(text)
        if regressed:
            print(f"p99 regressed by more than {100 * args.threshold:.0f}% in: {', '.join(regressed)}")
            return 1
        return 0

    from .synthetic import SCENARIOS

    if args.list:
        for name, sc in SCENARIOS.items():
            print(f"{name:22s} n={sc.n:<5d} d={sc.d:<4d} user={sc.kind:<13s} method={sc.method}")
        return 0
    for option in ("requests", "pool", "batch", "repeat"):
        if getattr(args, option) < 1:
            raise ValueError(f"--{option}: must be at least 1, got {getattr(args, option)}")
    for option in ("warmup", "baseline_requests", "reference"):
        if getattr(args, option) < 0:
            raise ValueError(f"--{option.replace('_', '-')}: must be >= 0, got {getattr(args, option)}")
    names = args.scenario or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise ValueError(f"--scenario: unknown {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    # Found out before minutes of timing, not after.
    if args.json:
        folder = Path(args.json).resolve().parent
        if not folder.is_dir():
            raise ValueError(f"--json: the folder {folder} does not exist")
        if not os.access(folder, os.W_OK):
            raise ValueError(f"--json: cannot write into {folder}")
    if args.baseline is not None and args.baseline_requests > 0 and not os.path.isfile(args.baseline):
        raise ValueError(f"--baseline: no file at {args.baseline}")

    from ._backend import native_module

    native_module()  # a missing build is an error here, not a benchmark of nothing
    env = environment()
    print(f"ranker {env['ranker']} ({env['simd_level'] or 'simd level unknown'}), Python {env['python']}, "
          f"NumPy {env['numpy']}, {env['cpu_model']}, {env['cores']} cores")

    record: Dict[str, Any] = {"schema": SCHEMA, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                              "environment": env, "scenarios": {}}
    if args.throughput:
        record["throughput"] = {}
        for name in names:
            _log(f"throughput: {name} ...")
            record["throughput"][name] = bench_throughput(SCENARIOS[name], args)
        print(f"throughput: {args.batch} requests per measurement, best of {args.repeat}")
        print(throughput_table(record["throughput"]))
    else:
        baseline = None
        baseline_path = args.baseline or DEFAULT_BASELINE
        if args.baseline_requests > 0:
            if os.path.exists(baseline_path):
                baseline = load_baseline(baseline_path)
            else:
                print(f"NumPy baseline not found at {baseline_path} (run from the repository root or pass "
                      f"--baseline PATH): reporting native only")
        record["settings"] = {"requests": args.requests, "warmup": args.warmup, "pool": args.pool,
                              "baseline": None if baseline is None else str(Path(baseline_path)),
                              "baseline_requests": args.baseline_requests if baseline is not None else 0}
        for name in names:
            _log(f"latency: {name} ...")
            record["scenarios"][name] = bench_scenario(SCENARIOS[name], args, baseline, _log)
        print(f"latency of one rank() call on one thread, microseconds: {args.requests} native calls"
              + (f", {args.baseline_requests} NumPy-baseline calls (x = baseline / native)" if baseline else "")
              + f"; spread = the slowest of the {args.pool} requests' medians over the fastest's"
              + ("; floor p99 = p50 plus the tail that fixed work as long as p50, timed after each call, "
                 "had on this machine: ranker's p99 can hardly go below it here" if args.floor else ""))
        print(latency_table(record["scenarios"]))
        refs = {n: r["reference"] for n, r in record["scenarios"].items() if "reference" in r}
        for name, ref in refs.items():
            print(f"reference on {name}: p50 {ref['p50'] / 1e3:,.1f} ms, p99 {ref['p99'] / 1e3:,.1f} ms "
                  f"({ref['requests']} calls)")
        bad = [n for n, r in record["scenarios"].items() if str(r.get("agreement", "")).startswith("DIFFERENT")]
        if bad:
            print(f"warning: the baseline disagrees with native on {', '.join(bad)}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(record, fh, indent=2, sort_keys=False)
            fh.write("\n")
        print(f"wrote {args.json}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="ranker bench", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
