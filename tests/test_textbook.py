"""Both backends against textbook MMR and textbook greedy DPP, written here from the papers.

The library's MMR is lazy (an item's penalty is brought up to date only when it reaches the top
of a queue) and its DPP is the incremental Cholesky form of Chen, Zhang and Zhou (2018). The
textbook versions below are neither: every slot recomputes every item's MMR gain against all
placed items, and the DPP gain is the determinant ratio det(L[Y + i]) / det(L[Y]) taken with
numpy.linalg.det. They share no code with the library, so a wrong kernel, a wrong sign of
lambda, a wrong s_max or a skipped update shows up here even where the two backends agree.

The check is DESIGN.md's certificate: replaying the library's page, each choice's textbook gain
is within a small tolerance of the best textbook gain at that slot; on top of that, a page
whose textbook run had no near tie must be the textbook page exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

import ranker
from ranker.synthetic import make_request
from ranker import Reason

BACKENDS = ["native", "reference"]
DPP_EPS = 1e-10   # DESIGN.md: below this marginal gain the rest of the page is filled by score
TIE = 1e-9        # gains closer than this are a tie: either choice is correct


def random_request(rng, method):
    n = int(rng.integers(1, 50))
    d = int(rng.integers(1, 9))
    emb = rng.normal(size=(n, d)).astype(np.float32)
    if n > 3 and rng.random() < 0.3:
        emb[rng.integers(n)] = emb[rng.integers(n)]   # two items along one direction
    if n > 3 and rng.random() < 0.2:
        emb[rng.integers(n)] = 0.0                     # a zero row: its cosine with anything is 0
    prior = rng.random(n).astype(np.float32)
    user = rng.normal(size=d).astype(np.float32)
    k = int(rng.integers(1, n + 3))
    diversity = {"method": method, "lambda": float(rng.random()), "alpha": float(rng.uniform(0.0, 3.0)),
                 "candidates": int(rng.integers(1, n + 1)) if rng.random() < 0.3 else 0}
    policy = ranker.Policy.from_dict({"k": k, "weights": {"relevance": 1.0, "prior": float(rng.uniform(0, 2))},
                                      "diversity": diversity})
    cands = ranker.Candidates(item_id=np.arange(n), embedding=emb, prior=prior)
    return cands, ranker.User(embedding=user), policy


def textbook_scores(cands, user, policy):
    w = policy.to_dict()["weights"]
    e = cands.embedding.astype(np.float64)
    return w["relevance"] * (e @ user.embedding.astype(np.float64)) + w["prior"] * cands.prior.astype(np.float64)


def unit_rows(e):
    e = np.asarray(e, dtype=np.float64)
    norms = np.linalg.norm(e, axis=1, keepdims=True)
    return np.divide(e, norms, out=np.zeros_like(e), where=norms > 0)


def mmr_gains(s, unit, lam, placed, placed_extra):
    """lambda * s_i - (1 - lambda) * max cosine to the placed items (0 with nothing placed)."""
    shown = [unit[j] for j in placed] + list(placed_extra)
    penalty = np.max(unit @ np.array(shown).T, axis=1) if shown else np.zeros(len(s))
    return lam * s - (1.0 - lam) * penalty


def dpp_gains(kernel, basis, items):
    """det(L[Y + i]) / det(L[Y]) for each i of items (nan elsewhere), Y the basis: the placed
    items that had a gain above epsilon when placed (one without adds nothing, and would make
    det(L[Y]) zero). Log-determinants, so long pages of small gains do not underflow."""
    t = len(basis)
    mats = np.empty((len(items), t + 1, t + 1))
    mats[:, :t, :t] = kernel[np.ix_(basis, basis)]
    mats[:, :t, t] = kernel[np.ix_(basis, items)].T
    mats[:, t, :t] = mats[:, :t, t]
    mats[:, t, t] = kernel[items, items]
    sign, logdet = np.linalg.slogdet(mats)
    base = np.linalg.slogdet(kernel[np.ix_(basis, basis)])[1] if t else 0.0
    gains = np.full(len(kernel), np.nan)
    gains[items] = sign * np.exp(logdet - base)
    return gains


def textbook_pool(res, s, policy, pinned):
    """The items the diversity step chooses from: eligible (by the result's drop codes, checked
    against the rules elsewhere), not pinned, cut to the best M by score when candidates = M."""
    pool = [int(i) for i in np.flatnonzero(np.asarray(res.drop_codes) == 0) if int(i) not in pinned]
    limit = policy.to_dict()["diversity"]["candidates"]
    if 0 < limit < len(pool):
        pool = sorted(sorted(pool, key=lambda i: (-s[i], i))[:limit])
    return pool


def best_open(gains, pool, taken):
    """(best gain, lowest index holding it, second-best gain) over the pool items not yet placed."""
    open_items = [i for i in pool if i not in taken]
    order = sorted(open_items, key=lambda i: (-gains[i], i))
    second = gains[order[1]] if len(order) > 1 else -np.inf
    return gains[order[0]], order[0], second


def check_mmr_page(res, cands, user, policy, history_embeddings=(), pinned=()):
    s = textbook_scores(cands, user, policy)
    unit = unit_rows(cands.embedding)
    lam = policy.to_dict()["diversity"]["lambda"]
    extra = list(unit_rows(history_embeddings)) if len(history_embeddings) else []
    page = [int(i) for i in res.indices]
    pool = textbook_pool(res, s, policy, pinned)
    assert len(page) == min(policy.k, len(pool) + len(pinned)) and len(set(page)) == len(page)
    placed, textbook, near_tie = list(pinned), list(pinned), False
    for t in range(len(pinned), len(page)):
        gains = mmr_gains(s, unit, lam, placed, extra)
        best, _, _ = best_open(gains, pool, placed)
        chosen = page[t]
        assert chosen not in placed
        assert gains[chosen] >= best - TIE * max(1.0, abs(best)), (
            f"slot {t}: item {chosen} has MMR gain {gains[chosen]!r}, the best open item {best!r}")
        placed.append(chosen)
        # The textbook's own page, run independently.
        own = mmr_gains(s, unit, lam, textbook, extra)
        top, top_item, second = best_open(own, pool, textbook)
        near_tie |= top - second <= TIE * max(1.0, abs(top))
        textbook.append(top_item)
    if not near_tie:
        assert page == textbook
    np.testing.assert_allclose(res.scores, s[page], rtol=1e-6, atol=1e-6)


def check_dpp_page(res, cands, user, policy, pinned=()):
    s = textbook_scores(cands, user, policy)
    alpha = policy.to_dict()["diversity"]["alpha"]
    unit = unit_rows(cands.embedding)
    page = [int(i) for i in res.indices]
    pool = textbook_pool(res, s, policy, pinned)
    assert len(page) == min(policy.k, len(pool) + len(pinned)) and len(set(page)) == len(page)
    r = np.exp(alpha * (s - max(s[i] for i in pool + list(pinned))))
    kernel = r[:, None] * (unit @ unit.T) * r[None, :]
    fill = [bool(int(x) & Reason.SCORE_FILL) for x in res.reasons]
    placed = []
    basis = []
    for j in pinned:
        if dpp_gains(kernel, basis, [j])[j] > DPP_EPS:
            basis.append(j)
        placed.append(j)
    for t in range(len(pinned), len(page)):
        gains = dpp_gains(kernel, basis, [i for i in pool if i not in placed])
        best, _, second = best_open(gains, pool, placed)
        chosen = page[t]
        if fill[t]:
            # Out of rank: every open gain is ~0, and the rest of the page goes by score.
            assert best <= 1e3 * DPP_EPS, f"slot {t}: filled by score while an item still gains {best!r}"
            rest = sorted((i for i in pool if i not in placed), key=lambda i: (-s[i], i))
            assert page[t:] == rest[:len(page) - t] or np.allclose(s[page[t:]], s[rest[:len(page) - t]], rtol=1e-9)
            assert all(fill[t:])
            return
        assert best > DPP_EPS / 1e3, f"slot {t}: a DPP choice where every gain is ~0 ({best!r})"
        assert gains[chosen] >= best - TIE, (
            f"slot {t}: item {chosen} has DPP gain {gains[chosen]!r}, the best open item {best!r}")
        if best - second > TIE:
            assert chosen == best_open(gains, pool, placed)[1]
        placed.append(chosen)
        basis.append(chosen)


def check_page(method, res, cands, user, policy, history_embeddings=(), pinned=()):
    if method == "mmr":
        check_mmr_page(res, cands, user, policy, history_embeddings, pinned)
    else:
        check_dpp_page(res, cands, user, policy, pinned)  # history does not enter the DPP kernel


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method", ["mmr", "dpp"])
def test_pages_match_the_textbook(backend, method):
    rng = np.random.default_rng(20261202 if method == "mmr" else 1018)
    for _ in range(300 if backend == "native" else 80):
        cands, user, policy = random_request(rng, method)
        check_page(method, ranker.rank(cands, user, policy, backend=backend), cands, user, policy)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method", ["mmr", "dpp"])
def test_pages_with_history_and_a_pin_match_the_textbook(backend, method):
    # A pin counts as placed (MMR) or enters the basis (DPP) before the first open slot;
    # history rows count as placed for MMR only.
    rng = np.random.default_rng(7 if method == "mmr" else 33)
    for _ in range(200 if backend == "native" else 60):
        cands, user, policy = random_request(rng, method)
        shown = rng.normal(size=(int(rng.integers(1, 6)), cands.embedding.shape[1])).astype(np.float32)
        pin = int(rng.integers(len(cands)))
        policy = policy.replace(pins=[{"item_id": pin, "slot": 0}])
        res = ranker.rank(cands, user, policy, backend=backend, history=ranker.History(embeddings=shown))
        assert int(res.indices[0]) == pin
        check_page(method, res, cands, user, policy, history_embeddings=shown, pinned=[pin])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method", ["mmr", "dpp"])
def test_benchmark_feed_pages_match_the_textbook(backend, method):
    # The benchmark's clustered feed data, n = 1000, d = 64, k = 50, where the native lazy
    # queues, score buckets and float screening do the most work. Rules at their defaults
    # (the page's pool is whatever they leave eligible) and no tag weight, so the score is
    # relevance and prior only.
    for seed in range(3 if backend == "native" else 1):
        cands, user, policy = make_request(1000, 64, seed, method=method, all_masks=False)
        policy = policy.replace(**{"weights.tag": 0.0})
        res = ranker.rank(cands, user, policy, backend=backend)
        check_page(method, res, cands, user, policy)


def varied_request(rng, method):
    """Larger pools than random_request, in the shapes the native kernels treat differently: d
    at and off the widths with a fixed-width scoring path, clustered, low-rank and all-positive
    rows, rows whose norms span six orders of magnitude (scores whose terms cancel), pages as
    long as the pool, and lambda and alpha at their ends."""
    n = int(rng.integers(50, 400))
    d = int(rng.choice([16, 32, 33, 64, 100, 128]))
    shape = rng.choice(["normal", "clustered", "lowrank", "positive", "scaled"])
    if shape == "clustered":
        centres = rng.normal(size=(int(rng.integers(2, 8)), d))
        emb = centres[rng.integers(len(centres), size=n)] + 0.3 * rng.normal(size=(n, d))
    elif shape == "lowrank":
        rank = int(rng.integers(1, 8))
        emb = rng.normal(size=(n, rank)) @ rng.normal(size=(rank, d))
    elif shape == "positive":
        emb = np.abs(rng.normal(size=(n, d)))
    elif shape == "scaled":
        emb = rng.normal(size=(n, d)) * 10.0 ** rng.uniform(-3.0, 3.0, size=(n, 1))
    else:
        emb = rng.normal(size=(n, d))
    cands = ranker.Candidates(item_id=np.arange(n), embedding=emb.astype(np.float32),
                              prior=rng.random(n).astype(np.float32))
    user = ranker.User(embedding=(rng.normal(size=d) * 10.0 ** rng.uniform(-1.0, 1.0)).astype(np.float32))
    diversity = {"method": method, "lambda": float(rng.choice([0.0, 0.5, 0.9, 1.0, rng.random()])),
                 "alpha": float(rng.choice([0.1, 1.0, 5.0]))}
    policy = ranker.Policy.from_dict({"k": int(rng.choice([10, 50, n])),
                                      "weights": {"relevance": 1.0, "prior": float(rng.uniform(0, 2))},
                                      "diversity": diversity})
    return cands, user, policy


@pytest.mark.parametrize("method", ["mmr", "dpp"])
def test_varied_pools_match_the_textbook(method):
    rng = np.random.default_rng(2026 if method == "mmr" else 1202)
    for _ in range(24):
        cands, user, policy = varied_request(rng, method)
        check_page(method, ranker.rank(cands, user, policy), cands, user, policy)
