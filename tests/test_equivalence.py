"""Native vs reference on many generated requests: identical drop codes, counts, statuses and
pin statuses, certificate-equivalent selections, and every rule of the table on both results."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

import ranker
from invariants import check_result
from requests import examples, requests


def _check_pair(cands, user, policy, k, history):
    cmp = ranker.compare(cands, user, policy, k, history=history)
    assert cmp.equivalent, cmp.divergences
    if cmp.error is None:
        check_result(cmp.native, history)
        check_result(cmp.reference, history)
        assert np.array_equal(cmp.native.drop_codes, cmp.reference.drop_codes)
        assert cmp.native.counts == cmp.reference.counts
    return cmp


@pytest.mark.parametrize("method", ["none", "mmr", "dpp"])
@settings(max_examples=examples(700))
@given(data=requests())
def test_backends_agree_on_generated_requests(method, data):
    cands, user, policy, k, history = data
    _check_pair(cands, user, policy.replace(**{"diversity.method": method}), k, history)


@settings(max_examples=examples(60))
@given(data=requests(max_n=120, with_history=False))
def test_backends_agree_on_larger_requests(data):
    _check_pair(*data[:4], None)


def test_synthetic_feed_requests_agree():
    from ranker import synthetic

    for method in ("none", "mmr", "dpp"):
        for seed, kind in enumerate(["personalized", "opted_out", "deleted_tags", "minor", "elderly"]):
            cands = synthetic.make_candidates(400, d=16, seed=seed)
            user = synthetic.make_user(d=16, seed=seed, kind=kind, candidates=cands)
            policy = synthetic.make_policy(method)
            cmp = _check_pair(cands, user, policy, 30, None)
            assert cmp.error is None


def test_certificate_catches_a_wrong_choice():
    """The comparison must be able to fail: swap two selected items of a real result."""
    rng = np.random.default_rng(5)
    n, d = 40, 4
    cands = ranker.Candidates(item_id=np.arange(n), embedding=rng.normal(size=(n, d)), prior=rng.random(n))
    user = ranker.User(embedding=rng.normal(size=d))
    policy = ranker.Policy.from_dict({"k": 10})
    res = ranker.rank(cands, user, policy, backend="reference")
    assert ranker.certify(res, cands, user, policy).equivalent
    res.indices = res.indices[::-1].copy()
    cmp = ranker.certify(res, cands, user, policy)
    assert not cmp.equivalent and "objective" in cmp.divergences[0]


def test_certificate_catches_a_wrong_drop_code():
    rng = np.random.default_rng(6)
    cands = ranker.Candidates(item_id=np.arange(5), embedding=rng.normal(size=(5, 3)), prior=rng.random(5),
                              flags=[0, 1, 0, 0, 0])
    user = ranker.User(embedding=rng.normal(size=3))
    policy = ranker.Policy()
    res = ranker.rank(cands, user, policy, backend="reference")
    res.drop_codes = res.drop_codes.copy()
    res.drop_codes[1] = 0
    assert not ranker.certify(res, cands, user, policy).equivalent


@pytest.mark.parametrize("method", ["none", "mmr", "dpp"])
def test_certificate_accepts_a_tie_at_the_truncation_boundary(method):
    """With diversity.candidates = M, an item whose score ties the M-th may be in one backend's
    pool and not the other's (float rounding). Items 3 and 8 have the same embedding, so the
    same score: the reference keeps 3, and a result drawn from the pool with 8 instead of 3
    is a tie. A pool differing by an item well below the boundary is still a divergence."""
    rng = np.random.default_rng(11)
    n, d, m = 12, 4, 6
    emb = rng.normal(size=(n, d)).astype(np.float32)
    user = ranker.User(embedding=rng.normal(size=d))
    u = user.embedding.astype(np.float64)
    scores = emb.astype(np.float64) @ u
    # Items 3 and 8 (the same row) get a score between the 5th and 6th best of the others, so
    # the boundary of the best M = 6 falls between them.
    order = [int(i) for i in np.argsort(-scores) if i not in (3, 8)]
    above, below = order[:m - 1], order[m - 1:]
    target = (scores[above[-1]] + scores[below[0]]) / 2
    emb[3] = emb[8] = (target * u / (u @ u)).astype(np.float32)
    scores = emb.astype(np.float64) @ u
    assert scores[above].min() > scores[3] == scores[8] > scores[below].max()
    cands = ranker.Candidates(item_id=np.arange(n), embedding=emb, prior=np.zeros(n))
    policy = ranker.Policy.from_dict({"k": m, "diversity": {"method": method, "candidates": m}})
    ref = ranker.rank(cands, user, policy, backend="reference")
    assert 3 in ref.indices.tolist() and 8 not in ref.indices.tolist()

    # The page the reference serves from the pool holding 8 instead of 3: the reference itself
    # on the request with item 3 dropped (BLOCKED), so that 8 moves up into the best M.
    flags = np.zeros(n, dtype=np.uint32)
    flags[3] = ranker.Flag.BLOCKED
    without_3 = ranker.Candidates(item_id=np.arange(n), embedding=emb, prior=np.zeros(n), flags=flags)
    alt = ranker.rank(without_3, user, policy, backend="reference")
    assert 8 in alt.indices.tolist()
    res = ranker.rank(cands, user, policy, backend="reference")
    res.indices, res.scores = alt.indices.copy(), alt.scores.copy()
    res.reasons, res.prices = alt.reasons.copy(), alt.prices.copy()
    cmp = ranker.certify(res, cands, user, policy)
    assert cmp.equivalent, cmp.divergences
    assert [t for t in cmp.ties if t.get("kind") == "truncation"] == [
        {"kind": "truncation", "native_pool_adds": [8], "native_pool_drops": [3], "gap": 0.0}]

    # The lowest-scored item in 8's place: outside the pool and no tie, so not allowed.
    far = int(below[-1])
    res.indices = np.where(alt.indices == 8, far, alt.indices)
    cmp = ranker.certify(res, cands, user, policy)
    assert not cmp.equivalent and "not allowed" in cmp.divergences[0]


@pytest.mark.parametrize("method", ["none", "mmr", "dpp"])
def test_backends_agree_where_score_terms_cancel(method):
    # Large rows nearly orthogonal to the user: each score (a few tens) is a sum of terms whose
    # magnitudes add up to some 1e5. The native scoring pass must be as accurate as the
    # reference's double sums there: in float lanes it missed such scores by about 2e-3, and
    # compare() reported divergences.
    rng = np.random.default_rng(2026_12_02)
    for d in (17, 64, 128):
        n = 50
        u = 10.0 * rng.normal(size=d)
        unit = u / np.linalg.norm(u)
        g = rng.normal(size=(n, d))
        emb = 1000.0 * (g - np.outer(g @ unit, unit)) + np.outer(rng.normal(size=n), unit)
        cands = ranker.Candidates(item_id=np.arange(n), embedding=emb.astype(np.float32),
                                  prior=np.zeros(n, np.float32))
        policy = ranker.Policy.from_dict({"k": n, "weights": {"relevance": 1.0, "prior": 0.0},
                                          "diversity": {"method": method}})
        _check_pair(cands, ranker.User(embedding=u.astype(np.float32)), policy, n, None)


@pytest.mark.parametrize("seed", range(6))
def test_dpp_agrees_where_share_caps_bind_and_run_out(seed):
    # Three categories with a share cap of 2 on a page of 20: the pins cap category 0 before slot
    # 0, the other two reach their cap within the page, and every later slot is relaxed. The
    # native DPP sets a capped category's items aside (no basis updates, no screening) and
    # screens them again before the first relaxed scan; the pages must still agree.
    rng = np.random.default_rng(seed)
    n, d = 150, 16
    category = rng.integers(0, 3, size=n)
    category[:2] = 0
    cands = ranker.Candidates(item_id=np.arange(n), embedding=rng.normal(size=(n, d)).astype(np.float32),
                              prior=rng.random(n).astype(np.float32), category=category)
    policy = ranker.Policy.from_dict({
        "k": 20, "weights": {"relevance": 1.0, "prior": 1.0},
        "diversity": {"method": "dpp", "alpha": float(rng.uniform(0.5, 3.0))},
        "scatter": {"category_share": 0.1},
        "pins": [{"item_id": 0, "slot": 0}, {"item_id": 1, "slot": 3}]})
    cmp = _check_pair(cands, ranker.User(embedding=rng.normal(size=d).astype(np.float32)), policy, 20, None)
    reasons = cmp.native.reasons
    assert any(r & ranker.Reason.SCATTER_RELAXED for r in reasons)
    assert sum(bool(r & ranker.Reason.DIVERSITY) for r in reasons) >= 4


def _wrong(res, **changes):
    """A copy of ``res`` with some fields replaced (RankResult's own constructor)."""
    from ranker.result import RankResult

    fields = dict(status=int(res.status), indices=res.indices.copy(), scores=res.scores.copy(),
                  reasons=res.reasons.copy(), prices=res.prices.copy(), drop_codes=res.drop_codes.copy(),
                  counts=np.asarray(res._counts).copy(), pin_status=np.asarray(res._pin_status).copy(),
                  backend=res.backend, k=res.k, candidates=res.candidates, user=res.user, policy=res.policy,
                  history=None)
    fields.update(changes)
    return RankResult(**fields)


def test_certificate_checks_that_the_result_belongs_to_the_request_and_names_the_cause():
    from ranker.synthetic import make_request

    cands, user, policy = make_request(240, 16, seed=1, method="mmr")
    res = ranker.rank(cands, user, policy, k=20)
    assert ranker.certify(res, cands, user, policy).equivalent  # at the result's own k, not the policy's 50

    def first(wrong, k=None):
        cmp = ranker.certify(wrong, cands, user, policy, k)
        assert not cmp.equivalent
        return cmp.divergences[0]

    nan = res.scores.copy()
    nan[0] = np.nan
    assert first(_wrong(res, scores=nan)).startswith("slot 0: score nan vs reference")
    assert first(_wrong(res, scores=res.scores[:0])) == "the result has 20 slots but 0 scores"
    assert first(_wrong(res, reasons=np.append(res.reasons, 1))) == "the result has 20 slots but 21 reasons"
    assert first(res, k=25).startswith("the result was ranked for k = 20, the check is for k = 25")
    other = policy.replace(**{"price.abs_tol": 0.0100001})
    assert first(_wrong(res, policy=other)).startswith("the result carries policy hash")
    ids = cands.item_id.copy()
    ids[res.indices[0]] = 987654321
    moved = ranker.Candidates(ids, cands.embedding, cands.prior, category=cands.category, author=cands.author,
                              tags=(cands.tag_indptr, cands.tag_ids), flags=cands.flags, min_age=cands.min_age,
                              fraud_risk=cands.fraud_risk, offered_price=cands.offered_price,
                              reference_price=cands.reference_price)
    assert first(_wrong(res, candidates=moved)).startswith("the result carries other candidates")
    twice = res.indices.copy()
    twice[1] = twice[0]
    assert first(_wrong(res, indices=twice)).startswith(f"candidates [{twice[0]}] fill more than one slot")
    # Why an item is not allowed, and which bits differ, in words.
    dropped = int(np.flatnonzero(res.drop_codes != 0)[0])
    swapped = res.indices.copy()
    swapped[3] = dropped
    code = ranker.Drop(int(res.drop_codes[dropped])).name
    assert first(_wrong(res, indices=swapped)) == (
        f"slot 3: native candidate {dropped} (item_id {cands.item_id[dropped]}) is not allowed here: "
        f"it was dropped ({code})")
    bits = res.reasons.copy()
    bits[2] ^= int(ranker.Reason.EDITORIAL)
    assert first(_wrong(res, reasons=bits)).startswith("slot 2: reasons ") and "EDITORIAL" in first(
        _wrong(res, reasons=bits))
