"""Many threads, one policy and shared candidates: every result equals the single-threaded one,
the GIL is released while native code works, and memory does not grow over many calls."""

from __future__ import annotations

import gc
import threading
import time

import numpy as np
import pytest

import ranker
from ranker import synthetic

THREADS = 4


def _requests(count, n=300, d=16, method="mmr"):
    policy = synthetic.make_policy(method)
    cands = synthetic.make_candidates(n, d=d, seed=11)          # shared by every request
    users = [synthetic.make_user(d=d, seed=s, kind=kind, candidates=cands)
             for s, kind in zip(range(count), ["personalized", "opted_out", "deleted_tags", "elderly"] * count)]
    return cands, users, policy


def _same(a, b):
    return (np.array_equal(a.indices, b.indices) and np.array_equal(a.scores, b.scores)
            and np.array_equal(a.reasons, b.reasons) and np.array_equal(a.drop_codes, b.drop_codes))


@pytest.mark.parametrize("method", ["none", "mmr", "dpp"])
def test_threads_released_together_match_single_threaded(method):
    cands, users, policy = _requests(8, method=method)
    expected = [ranker.rank(cands, u, policy, 30) for u in users]
    barrier = threading.Barrier(THREADS)
    failures, results = [], {}

    def worker(tid):
        barrier.wait()
        for rep in range(25):
            for j, u in enumerate(users):
                res = ranker.rank(cands, u, policy, 30)
                if not _same(res, expected[j]):
                    failures.append((tid, rep, j))
        results[tid] = ranker.rank_batch([(cands, u) for u in users], policy, 30, threads=2)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    for tid in range(THREADS):
        assert all(_same(a, b) for a, b in zip(results[tid], expected))


def test_rank_batch_matches_rank_for_any_thread_count():
    cands, users, policy = _requests(12, method="dpp")
    expected = [ranker.rank(cands, u, policy) for u in users]
    for threads in (1, 2, 3, 16, None):
        got = ranker.rank_batch([(cands, u) for u in users], policy, threads=threads)
        assert len(got) == len(users) and all(_same(a, b) for a, b in zip(got, expected))
    assert ranker.rank_batch([], policy) == []


def test_gil_is_released_while_native_code_works():
    """A Python thread keeps counting while one long rank() runs in another thread."""
    cands = synthetic.make_candidates(60_000, d=64, seed=2)
    user = synthetic.make_user(d=64, seed=2, candidates=cands)
    policy = synthetic.make_policy("dpp").replace(k=400, **{"scatter.category_share": 1.0})
    ranker.rank(cands, user, policy)   # warm up (builds the native views)
    start = time.perf_counter()
    ranker.rank(cands, user, policy)
    alone = time.perf_counter() - start
    assert alone > 0.02, "the workload is too small to observe the GIL"

    counter, stop = [0], threading.Event()

    def count():
        while not stop.is_set():
            counter[0] += 1

    done = threading.Event()

    def work():
        ranker.rank(cands, user, policy)
        done.set()

    counting = threading.Thread(target=count)
    counting.start()
    time.sleep(0.01)
    worker = threading.Thread(target=work)
    before = counter[0]
    worker.start()
    worker.join()
    during = counter[0] - before
    stop.set()
    counting.join()
    # With the GIL held for the whole call the counter could only move at the call's edges.
    assert during > 10_000, f"counter advanced only {during} times during a {alone * 1e3:.0f} ms rank()"


def _rss_kib():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def test_memory_does_not_grow_over_100k_calls():
    cands, users, policy = _requests(4, n=200, method="mmr")
    history = ranker.rank(cands, users[0], policy, 10)

    def burst(calls):
        for i in range(calls):
            ranker.rank(cands, users[i % 4], policy, 10, history=history if i % 2 else None)

    burst(20_000)
    gc.collect()
    before = _rss_kib()
    burst(100_000)
    gc.collect()
    grown = _rss_kib() - before
    assert grown < 4096, f"RSS grew by {grown} KiB over 100,000 calls"
