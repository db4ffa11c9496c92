"""The edges of the size grid and of selection: empty requests, k = 0, k > n, everything dropped,
pins out of range, selection ending early, exact ties."""

from __future__ import annotations

import numpy as np
import pytest

import ranker
from ranker import Drop, PinStatus, Reason, Status
from invariants import check_result

BACKENDS = ["native", "reference"]


def plain(n, d=4, seed=0, **extra):
    rng = np.random.default_rng(seed)
    return ranker.Candidates(item_id=np.arange(n), embedding=rng.normal(size=(n, d)).astype(np.float32),
                             prior=rng.random(n).astype(np.float32), **extra)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method", ["none", "mmr", "dpp"])
@pytest.mark.parametrize("n", [0, 1, 7, 97])
@pytest.mark.parametrize("k_of_n", [lambda n: 0, lambda n: 1, lambda n: n, lambda n: n + 1])
def test_size_grid(backend, method, n, k_of_n):
    k = k_of_n(n)
    cands = plain(n)
    policy = ranker.Policy.from_dict({"diversity": {"method": method}})
    res = ranker.rank(cands, ranker.User(embedding=np.ones(4)), policy, k, backend=backend)
    assert len(res) == min(k, n)
    assert res.drop_codes.shape == (n,) and res.counts[Drop.ELIGIBLE] == n
    check_result(res)
    if method == "none" and n:
        scores = cands.embedding @ np.ones(4, np.float32)
        assert set(res.indices.tolist()) == set(np.argsort(-scores, kind="stable")[: min(k, n)].tolist())


@pytest.mark.parametrize("backend", BACKENDS)
def test_all_items_dropped_gives_an_empty_page(backend):
    cands = plain(5, flags=np.full(5, ranker.Flag.BLOCKED))
    res = ranker.rank(cands, ranker.User(embedding=np.ones(4)), ranker.Policy(), backend=backend)
    assert res.status == Status.OK and len(res) == 0 and res.counts[Drop.BLOCKED] == 5


@pytest.mark.parametrize("backend", BACKENDS)
def test_pins_out_of_range_and_unknown(backend):
    policy = ranker.Policy.from_dict({"k": 3, "pins": [{"item_id": 1, "slot": 3}, {"item_id": 77, "slot": 0},
                                                       {"item_id": 2, "slot": 2}]})
    res = ranker.rank(plain(5), ranker.User(embedding=np.ones(4)), policy, backend=backend)
    assert res.pin_status == [PinStatus.BEYOND_K, PinStatus.NOT_IN_CANDIDATES, PinStatus.PLACED]
    assert res.indices[2] == 2 and 1 not in res.indices.tolist()   # a pin out of range still reserves its item
    assert res.reasons[2] & Reason.EDITORIAL


@pytest.mark.parametrize("backend", BACKENDS)
def test_selection_ends_before_a_pin_without_moving_it(backend):
    # Only HARMFUL items besides the pin: key slots 0-1 cannot be filled, so the pin at slot 3 is unreached
    # rather than pulled forward into a key slot.
    flags = np.array([2, 2, 2, 0], np.uint32)
    policy = ranker.Policy.from_dict({"k": 5, "key_slots": {"count": 2}, "pins": [{"item_id": 3, "slot": 3}]})
    res = ranker.rank(plain(4, flags=flags), ranker.User(embedding=np.ones(4)), policy, backend=backend)
    assert len(res) == 0 and res.pin_status == [PinStatus.UNREACHED]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method", ["none", "mmr", "dpp"])
def test_exact_ties_go_to_the_lower_index(backend, method):
    emb = np.tile(np.array([[1.0, 0.0, 0.0, 0.0]], np.float32), (6, 1))
    cands = ranker.Candidates(item_id=[60, 50, 40, 30, 20, 10], embedding=emb, prior=np.zeros(6))
    res = ranker.rank(cands, ranker.User(embedding=[1, 0, 0, 0]),
                      ranker.Policy.from_dict({"k": 3, "diversity": {"method": method}}), backend=backend)
    assert res.indices.tolist() == [0, 1, 2]


@pytest.mark.parametrize("backend", BACKENDS)
def test_duplicate_ids_keep_the_first(backend):
    cands = ranker.Candidates(item_id=[5, 6, 5, 5], embedding=np.eye(4), prior=np.zeros(4))
    res = ranker.rank(cands, ranker.User(embedding=[0, 0, 1, 1]), ranker.Policy(), backend=backend)
    assert res.drop_codes.tolist() == [0, 0, Drop.DUPLICATE, Drop.DUPLICATE]
    assert sorted(res.item_ids.tolist()) == [5, 6]


@pytest.mark.parametrize("backend", BACKENDS)
def test_dpp_runs_out_of_rank_and_fills_by_score(backend):
    # d = 2: the kernel has rank 2, so from the third slot on the gains are ~0 and slots are filled by score.
    rng = np.random.default_rng(1)
    cands = ranker.Candidates(item_id=np.arange(10), embedding=rng.normal(size=(10, 2)), prior=rng.random(10))
    policy = ranker.Policy.from_dict({"k": 6, "diversity": {"method": "dpp"}})
    res = ranker.rank(cands, ranker.User(embedding=[1, 0.5]), policy, backend=backend)
    fill = [bool(r & Reason.SCORE_FILL) for r in res.reasons]
    assert fill == [False, False, True, True, True, True]
    assert all(r & Reason.DIVERSITY for r in res.reasons[:2])
    rest = res.scores[2:]
    assert np.all(np.diff(rest) <= 0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_pin_after_the_score_fill_starts_keeps_editorial_only(backend):
    # d = 2 again, and the pin enters the basis first: one diversity slot is left, the fill
    # starts at slot 1, and the pin at slot 4 is editorial, not score fill.
    rng = np.random.default_rng(1)
    cands = ranker.Candidates(item_id=np.arange(10), embedding=rng.normal(size=(10, 2)), prior=rng.random(10))
    policy = ranker.Policy.from_dict({"k": 6, "diversity": {"method": "dpp"}, "pins": [{"item_id": 7, "slot": 4}]})
    res = ranker.rank(cands, ranker.User(embedding=[1, 0.5]), policy, backend=backend)
    assert res.indices[4] == 7
    assert [int(r & (Reason.SCORE_FILL | Reason.EDITORIAL)) for r in res.reasons] == [
        0, Reason.SCORE_FILL, Reason.SCORE_FILL, Reason.SCORE_FILL, Reason.EDITORIAL, Reason.SCORE_FILL]


@pytest.mark.parametrize("backend", BACKENDS)
def test_dpp_serves_a_zero_embedding_only_by_score_fill(backend):
    # A cosine with a zero vector is 0, so L_ii = r_i^2 cos(e_i, e_i) = 0: the item adds nothing
    # to any determinant, and however high its score it waits for the fill.
    emb = np.array([[0, 0], [1, 0], [0.9, 0.1], [0, 1]], dtype=np.float32)
    cands = ranker.Candidates(item_id=np.arange(4), embedding=emb, prior=[10.0, 1.0, 0.9, 0.5])
    policy = ranker.Policy.from_dict({"k": 4, "weights": {"relevance": 0.0, "prior": 1.0},
                                      "diversity": {"method": "dpp", "alpha": 0.1}})
    res = ranker.rank(cands, ranker.User(embedding=[1, 1]), policy, backend=backend)
    assert res.indices.tolist() == [1, 3, 0, 2]
    assert [bool(r & Reason.SCORE_FILL) for r in res.reasons] == [False, False, True, True]


@pytest.mark.parametrize("backend", BACKENDS)
def test_pretruncation_to_m(backend):
    cands = plain(50, seed=3)
    policy = ranker.Policy.from_dict({"k": 10, "diversity": {"method": "mmr", "lambda": 0.2, "candidates": 12}})
    res = ranker.rank(cands, ranker.User(embedding=np.ones(4)), policy, backend=backend)
    scores = cands.embedding.astype(np.float64) @ np.ones(4)
    top12 = set(np.argsort(-scores, kind="stable")[:12].tolist())
    assert set(res.indices.tolist()) <= top12 and len(res) == 10


@pytest.mark.parametrize("backend", BACKENDS)
def test_mmr_lambda_direction(backend):
    """lambda = 1 is pure relevance; lambda = 0 pure novelty."""
    rng = np.random.default_rng(2)
    cands = plain(40, seed=2)
    user = ranker.User(embedding=rng.normal(size=4))
    by_score = ranker.rank(cands, user, ranker.Policy.from_dict({"k": 8}), backend=backend)
    pure = ranker.rank(cands, user, ranker.Policy.from_dict({"k": 8, "diversity": {"method": "mmr", "lambda": 1.0}}),
                       backend=backend)
    novel = ranker.rank(cands, user, ranker.Policy.from_dict({"k": 8, "diversity": {"method": "mmr", "lambda": 0.0}}),
                        backend=backend)
    assert pure.indices.tolist() == by_score.indices.tolist()
    assert novel.indices[0] == 0   # nothing placed: all gains 0, the lowest index wins
    e = cands.embedding / np.linalg.norm(cands.embedding, axis=1, keepdims=True)
    sim = lambda idx: np.max(e[idx] @ e[idx].T - 2 * np.eye(len(idx)), axis=1).mean()
    assert sim(novel.indices) < sim(pure.indices)


@pytest.mark.parametrize("backend", BACKENDS)
def test_result_does_not_touch_caller_arrays(backend):
    emb = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
    emb.setflags(write=False)
    prior = np.linspace(0, 1, 20)
    before = prior.copy()
    cands = ranker.Candidates(item_id=np.arange(20), embedding=emb, prior=prior)
    ranker.rank(cands, ranker.User(embedding=np.ones(4)), ranker.Policy(), backend=backend)
    np.testing.assert_array_equal(prior, before)


@pytest.mark.parametrize("n", [1024, 5000])
@pytest.mark.parametrize("d", [1, 3, 64, 100])
@pytest.mark.parametrize("k_of_n", [lambda n: 0, lambda n: 1, lambda n: n, lambda n: n + 1])
def test_large_size_grid(n, d, k_of_n):
    """The rest of the size grid: native on every size, certified by the reference where the
    pure-Python replay stays affordable (k <= 1 everywhere, the whole page at n = 1024, d in {1, 100})."""
    k = k_of_n(n)
    rng = np.random.default_rng(n + d)
    cands = ranker.Candidates(item_id=rng.permutation(n), embedding=rng.normal(size=(n, d)).astype(np.float32),
                              prior=rng.random(n).astype(np.float32), category=rng.integers(0, 30, n),
                              flags=rng.choice(np.array([0, 0, 0, 1, 2, 16], np.uint32), n))
    user = ranker.User(embedding=rng.normal(size=d))
    policy = ranker.Policy.from_dict({"key_slots": {"count": 3, "featured_min": 1},
                                      "scatter": {"category_window": 4, "category_max": 1}})
    res = ranker.rank(cands, user, policy, k)
    eligible = int(np.sum(res.drop_codes == 0))
    assert len(res) == min(k, eligible)   # plenty of non-HARMFUL items: the page always fills
    check_result(res)
    if k <= 1 or (n == 1024 and d in (1, 100)):
        cmp = ranker.certify(res, cands, user, policy, k)
        assert cmp.equivalent, cmp.divergences
        ref = ranker.rank(cands, user, policy, k, backend="reference") if k <= 1 else None
        if ref is not None:
            assert np.array_equal(ref.drop_codes, res.drop_codes)


@pytest.mark.parametrize("window, cap, categories", [(150, 1, 20), (150, 3, 4), (40, 2, 3), (149, 7, 2)])
def test_windows_as_long_as_the_page_with_pins_and_history(window, cap, categories):
    # Windows wider than the page: every earlier slot, the history and the pins ahead all
    # count. The native backend slides its counts along the page; the reference rescans.
    rng = np.random.default_rng(window + cap)
    n = 150
    cands = ranker.Candidates(
        item_id=np.arange(n), embedding=rng.normal(size=(n, 4)).astype(np.float32),
        prior=rng.random(n).astype(np.float32), category=rng.integers(0, categories, n),
        author=rng.integers(0, 2 * categories, n))
    user = ranker.User(embedding=rng.normal(size=4).astype(np.float32))
    history = ranker.History(categories=rng.integers(0, categories, 40), authors=rng.integers(0, 2 * categories, 40))
    pins = [{"item_id": int(i), "slot": int(s)}
            for i, s in zip(rng.choice(n, 5, replace=False), rng.choice(n, 5, replace=False))]
    policy = ranker.Policy.from_dict({"k": n, "pins": pins, "scatter": {
        "category_window": window, "category_max": cap, "author_window": window // 2, "author_max": cap}})
    cmp = ranker.compare(cands, user, policy, history=history)
    assert cmp.equivalent, cmp.divergences
    assert len(cmp.native) == n
    check_result(cmp.native, history)
