"""A NumPy implementation of the ranker pipeline: the baseline the native backend is measured against.

This is the code a skilled NumPy user would write for the same job (docs/semantics.md), so
that "native is N times faster" means something (bench/README.md has the full list):

* eligibility is a dozen vectorised boolean masks over all n candidates;
* scores are one float32 matrix-vector product plus a tag-weight table gather and a
  ``np.bincount`` over the matching tag entries;
* the policy is turned into plain Python values once per policy and cached, as the native
  backend validates it once;
* without diversity, selection walks the pool in score order (only its head is sorted), so a
  slot looks at a few items; with MMR or DPP every slot is one masked ``argmax`` over the pool;
* scatter caps are tracked incrementally: sliding window counts give the banned values, and a
  per-item ban count changes only for the items whose value entered or left a ban;
* MMR keeps the max-similarity vector of every pool item and updates it with one
  matrix-vector product per placed item (``O(k n d)``), never recomputing the similarity
  to the whole selected set;
* DPP is the fast greedy MAP of Chen, Zhang and Zhou (NeurIPS 2018): an incremental Cholesky
  row per item, updated for all items at once each step (one product with the embedding
  matrix and one with the Cholesky factor, ``O(k n (d + k))``);
* the per-request matrices live in reused buffers (no page faults per request).

It must agree with the reference (same drop codes and counts, same statuses, same selected
items except floating-point ties): tests/test_numpy_baseline.py checks that, so the timing
comparison is between two implementations of the same thing.

It is not part of the package and is not used in production; it only reads the public
attributes of ``ranker.Candidates``, ``ranker.User``, ``ranker.History``/``RankResult`` and
``ranker.Policy.to_dict()``, and keeps module-level caches, so it is single-threaded.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

# Enum values of docs/semantics.md (kept as plain ints: this file imports nothing from ranker).
F_BLOCKED, F_HARMFUL, F_SYNTHETIC, F_SYNTHETIC_LABELED, F_FEATURED = 1, 2, 4, 8, 16
KNOWN_FLAGS = 31
D_ELIGIBLE, D_DUPLICATE, D_BLOCKED, D_UNLABELED_SYNTHETIC, D_MINOR_AGE = 0, 1, 2, 3, 4
D_MINOR_HARMFUL, D_FRAUD_RISK, D_PRICE_PARITY, D_DELETED_TAG, D_SEEN = 5, 6, 7, 8, 9
N_DROPS = 10
R_PERSONAL, R_TAG_MATCH, R_PRIOR, R_NON_PERSONALIZED, R_EDITORIAL = 1, 2, 4, 8, 16
R_FEATURED, R_DIVERSITY, R_SCATTER_RELAXED, R_PRICE_CLAMPED, R_PRICE_FLAGGED, R_SCORE_FILL = (
    32, 64, 128, 256, 512, 1024)
S_OK, S_CURFEW, S_DAILY_LIMIT = 0, 1, 2
P_PLACED, P_NOT_IN_CANDIDATES, P_INELIGIBLE, P_BEYOND_K, P_HARMFUL_IN_KEY_SLOT = 0, 1, 2, 3, 4
P_UNREACHED, P_NOT_SERVED = 5, 6
DPP_EPS = 1e-10
NEG_INF = -np.inf
#: Without diversity, selection walks the pool in score order; it sorts only the best
#: WALK_PER_SLOT * k + WALK_EXTRA items up front (the rest if the walk gets past them).
WALK_PER_SLOT = 4
WALK_EXTRA = 64


@dataclass
class BaselineResult:
    """The same fields as ``ranker.RankResult`` (plain ints instead of enums)."""

    indices: np.ndarray
    item_ids: np.ndarray
    scores: np.ndarray
    reasons: np.ndarray
    prices: np.ndarray
    drop_codes: np.ndarray
    counts: np.ndarray  # int64[10], indexed by drop code
    pin_status: list[int]
    status: int
    k: int
    backend: str = "numpy"

    def __len__(self) -> int:
        return int(self.indices.shape[0])


@dataclass
class _Plan:
    """The policy as plain values, built once per policy."""

    k: int
    w_rel: float
    w_tag: float
    w_prior: float
    forbidden_set: set
    suppress: bool
    curfew_start: int
    curfew_end: int
    bands: list[tuple[int, int]]
    max_risk: float
    elderly_max_risk: float
    price_action: str
    abs_tol: float
    rel_tol: float
    key_count: int
    featured_min: int
    pins: list[tuple[int, int]]
    method: str
    lam: float
    alpha: float
    top_m: int
    cat_window: int
    cat_max: int
    auth_window: int
    auth_max: int
    share: float


def _clock(value: Any) -> int:
    if isinstance(value, (int, np.integer)):
        return int(value)
    hours, minutes = str(value).split(":")
    return int(hours) * 60 + int(minutes)


_PLANS: dict[str, _Plan] = {}


def plan_for(policy: Any) -> _Plan:
    """The cached plain-value form of ``policy`` (keyed by the policy hash)."""
    key = policy.hash
    plan = _PLANS.get(key)
    if plan is not None:
        return plan
    d = policy.to_dict()
    plan = _Plan(
        k=int(d["k"]),
        w_rel=float(d["weights"]["relevance"]), w_tag=float(d["weights"]["tag"]),
        w_prior=float(d["weights"]["prior"]),
        forbidden_set={int(t) for t in d["tags"]["forbidden"]},
        suppress=d["tags"]["deletion"] == "suppress",
        curfew_start=_clock(d["minor"]["curfew_start"]), curfew_end=_clock(d["minor"]["curfew_end"]),
        bands=sorted((int(a), int(m)) for a, m in d["minor"]["daily_minutes"].items()),
        max_risk=float(d["fraud"]["max_risk"]), elderly_max_risk=float(d["fraud"]["elderly_max_risk"]),
        price_action=d["price"]["action"], abs_tol=float(d["price"]["abs_tol"]),
        rel_tol=float(d["price"]["rel_tol"]),
        key_count=int(d["key_slots"]["count"]), featured_min=int(d["key_slots"]["featured_min"]),
        pins=[(int(p["item_id"]), int(p["slot"])) for p in d["pins"]],
        method=d["diversity"]["method"], lam=float(d["diversity"]["lambda"]),
        alpha=float(d["diversity"]["alpha"]), top_m=int(d["diversity"]["candidates"]),
        cat_window=int(d["scatter"]["category_window"]), cat_max=int(d["scatter"]["category_max"]),
        auth_window=int(d["scatter"]["author_window"]), auth_max=int(d["scatter"]["author_max"]),
        share=float(d["scatter"]["category_share"]),
    )
    _PLANS[key] = plan
    return plan


def _history_parts(history: Any) -> tuple[Any, Any, Any]:
    """(categories, authors, embeddings) of a History or of a RankResult's history."""
    if history is None:
        return None, None, None
    h = getattr(history, "history", None)
    if h is not None and not hasattr(history, "categories"):
        history = h  # a RankResult: its history already includes its own page
    return history.categories, history.authors, history.embeddings


def _check_finite(arr: np.ndarray, name: str) -> None:
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: contains NaN or infinite values")


def _minor_status(plan: _Plan, user: Any) -> int:
    m = user.local_minute
    s, e = plan.curfew_start, plan.curfew_end
    if (s < e and s <= m < e) or (s > e and (m >= s or m < e)):
        return S_CURFEW
    limit = None
    age = user.age
    for key, minutes in plan.bands:
        if age is None or age < key:
            limit = minutes
            break
    if limit is not None and user.usage_minutes_today >= limit:
        return S_DAILY_LIMIT
    return S_OK


def _eligibility(plan: _Plan, cands: Any, user: Any, n: int) -> np.ndarray:
    """Drop code per candidate: the masks are applied last rule first, so the first rule wins."""
    codes = np.zeros(n, dtype=np.uint8)
    ids = cands.item_id
    flags = cands.flags

    if user.seen.size:
        codes[_isin(ids, user.seen)] = D_SEEN

    if user.personalized and plan.suppress and user.deleted_tags.size:
        if cands.tag_indptr is None:
            raise ValueError("candidates.tags: required to suppress items carrying a deleted tag")
        hit = _isin(cands.tag_ids, user.deleted_tags)
        if hit.any():
            csum = np.concatenate(([0], np.cumsum(hit)))
            indptr = cands.tag_indptr
            codes[(csum[indptr[1:]] - csum[indptr[:-1]]) > 0] = D_DELETED_TAG

    if plan.price_action == "drop" and cands.offered_price is not None:
        o, r = cands.offered_price, cands.reference_price
        viol = np.abs(o - r) > plan.abs_tol + plan.rel_tol * np.abs(r)  # NaN compares False
        codes[viol] = D_PRICE_PARITY

    thr = min(plan.max_risk, plan.elderly_max_risk) if user.elderly else plan.max_risk
    if thr < 1.0:
        if cands.fraud_risk is None:
            raise ValueError("candidates.fraud_risk: required by the fraud-risk threshold of the policy")
        codes[cands.fraud_risk.astype(np.float64) > thr] = D_FRAUD_RISK

    if user.minor_mode and flags is not None:
        codes[(flags & F_HARMFUL) != 0] = D_MINOR_HARMFUL
    if (user.minor_mode or user.age is not None) and cands.min_age is not None:
        age_eff = user.age if user.age is not None else 0
        codes[cands.min_age > age_eff] = D_MINOR_AGE

    if flags is not None:
        codes[(flags & (F_SYNTHETIC | F_SYNTHETIC_LABELED)) == F_SYNTHETIC] = D_UNLABELED_SYNTHETIC
        codes[(flags & F_BLOCKED) != 0] = D_BLOCKED

    # Duplicates are rare: find the repeated values with one sort, then their later rows.
    sorted_ids = np.sort(ids)
    repeated = sorted_ids[1:][sorted_ids[1:] == sorted_ids[:-1]]
    for v in np.unique(repeated).tolist():
        codes[np.flatnonzero(ids == v)[1:]] = D_DUPLICATE
    return codes


def _active_tag_weights(plan: _Plan, user: Any) -> tuple[np.ndarray, np.ndarray]:
    """The user's interest tags minus deleted and forbidden ones, and minus zero weights
    (a dozen values: plain Python beats NumPy's per-call overhead here)."""
    if user.tag_ids.size == 0:
        return user.tag_ids, user.tag_weights
    removed = set(user.deleted_tags.tolist()) | plan.forbidden_set
    pairs = [(t, w) for t, w in zip(user.tag_ids.tolist(), user.tag_weights.tolist())
             if w != 0.0 and t not in removed]
    return (np.fromiter((t for t, _ in pairs), dtype=np.int64, count=len(pairs)),
            np.fromiter((w for _, w in pairs), dtype=np.float64, count=len(pairs)))


def _isin(values: np.ndarray, members: np.ndarray) -> np.ndarray:
    """``np.isin`` without its sorting overhead when ``members`` is a handful of values."""
    if members.size > 16:
        return np.isin(values, members)
    out = np.zeros(values.shape, dtype=bool)
    for m in members.tolist():
        out |= values == m
    return out


def _tag_sums(cands: Any, n: int, act_ids: np.ndarray, act_w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per item: the sum of active weights over its distinct tags, and whether it carries one."""
    tsum = np.zeros(n, dtype=np.float64)
    has = np.zeros(n, dtype=bool)
    tag_ids = cands.tag_ids
    if cands.tag_indptr is None or act_ids.size == 0 or tag_ids.size == 0:
        return tsum, has
    top = int(tag_ids.max())
    if top < (1 << 22):
        # Tag vocabularies are small: a dense weight table turns the match into one gather.
        table = np.zeros(top + 1, dtype=np.float64)
        inside = act_ids <= top
        table[act_ids[inside]] = act_w[inside]
        entries = np.flatnonzero(table[tag_ids])
        weights = table[tag_ids[entries]]
    else:
        order = np.argsort(act_ids)
        sorted_ids = act_ids[order]
        pos = np.minimum(np.searchsorted(sorted_ids, tag_ids), sorted_ids.size - 1)
        entries = np.flatnonzero(sorted_ids[pos] == tag_ids)
        weights = act_w[order][pos[entries]]
    if entries.size == 0:
        return tsum, has
    rows = np.searchsorted(cands.tag_indptr, entries, side="right") - 1
    # An item may list a tag twice; it counts once. Rare, so check before paying for unique.
    key = rows.astype(np.int64) * (top + 1) + tag_ids[entries]
    sorted_key = np.sort(key)
    if (sorted_key[1:] == sorted_key[:-1]).any():
        _, first = np.unique(key, return_index=True)
        rows, weights = rows[first], weights[first]
    tsum += np.bincount(rows, weights=weights, minlength=n)
    has[rows] = True
    return tsum, has


class _Workspace:
    """Buffers for the per-request matrices (pool embeddings, DPP factor), kept between calls.

    A fresh 0.5 MB array per request costs page faults every time (glibc hands large blocks
    back to the OS on free), which on small VMs is as slow as the arithmetic; reusing buffers
    is what a latency-minded NumPy user does. Not thread-safe: the baseline is single-threaded."""

    def __init__(self) -> None:
        self._buffers: dict = {}

    def get(self, name: str, shape: tuple, dtype: Any) -> np.ndarray:
        size = int(np.prod(shape))
        buf = self._buffers.get(name)
        if buf is None or buf.size < size or buf.dtype != dtype:
            buf = self._buffers[name] = np.empty(max(size, 1), dtype=dtype)
        return buf[:size].reshape(shape)


_WS = _Workspace()


def _unit_rows(a: np.ndarray, out: Any = None) -> np.ndarray:
    """Rows scaled to unit length (into ``out`` if given, else in a new array of a's dtype);
    zero rows stay zero, so their cosine is 0."""
    if out is not None and out is not a:
        np.copyto(out, a)
        a = out
    norms = np.sqrt(np.einsum("ij,ij->i", a, a))
    inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    if out is None:
        return a * inv[:, None]
    np.multiply(a, inv[:, None], out=out)
    return out


def _pick(obj: np.ndarray, keymask: Any, blocked: Any) -> tuple[int, bool]:
    """Best pool position under the hard mask and the scatter bans (relaxed when none is left).

    ``obj`` is -inf at selected items; argmax takes the first maximum, the lowest index."""
    relaxed = False
    if blocked is not None:
        ok = blocked == 0
        if keymask is not None:
            ok &= keymask
        cand = np.where(ok, obj, NEG_INF)
        j = int(cand.argmax())
        if cand[j] != NEG_INF:
            return j, False
        relaxed = True
    if keymask is not None:
        return int(np.where(keymask, obj, NEG_INF).argmax()), relaxed
    return int(obj.argmax()), relaxed


class _Groups:
    """Pool positions by value (category or author), from one stable sort per request."""

    def __init__(self, values: np.ndarray) -> None:
        self.order = np.argsort(values, kind="stable")
        self.sorted = values[self.order].tolist()

    def members(self, value: int) -> np.ndarray:
        lo = bisect.bisect_left(self.sorted, value)
        return self.order[lo:bisect.bisect_right(self.sorted, value, lo)]


def _window_bans(seq: list, pos: int, window: int, cap: int) -> set:
    """Values that may not go to position ``pos`` of ``seq`` (None = empty): some window of
    ``window`` positions containing it already holds ``cap`` of them. Windows that start
    before seq[0] hold a subset of the one that starts at 0."""
    banned = set()
    for a in range(max(0, pos - window + 1), pos + 1):
        counts: dict = {}
        for v in seq[a:a + window]:
            if v is not None:
                c = counts[v] = counts.get(v, 0) + 1
                if c >= cap:
                    banned.add(v)
    return banned


class _WindowCap:
    """A window cap (at most ``cap`` of one value in any ``window`` consecutive slots).

    The sequence holds the history tail, then the k slots (pins filled in from the start).
    Without a pin ahead inside the window, the only window that matters is the one ending at
    the current slot, whose counts slide by one value per slot; with one, all windows are
    recounted."""

    def __init__(self, hist: Any, values: np.ndarray, pin_at: dict, window: int, cap: int, k: int) -> None:
        tail = hist[max(0, len(hist) - (window - 1)):].tolist() if hist is not None else []
        self.off = len(tail)
        self.seq: list = tail + [None] * k
        self.values, self.window, self.cap = values, window, cap
        self.pin_pos = sorted(self.off + s for s in pin_at)
        for s, i in pin_at.items():
            self.seq[self.off + s] = int(values[i])
        self.counts: dict = {}
        self.banned_now: set = set()
        for v in tail:
            c = self.counts[v] = self.counts.get(v, 0) + 1
            if c >= cap:
                self.banned_now.add(v)

    def banned(self, t: int) -> set:
        pos = self.off + t
        if self.pin_pos and any(pos < q < pos + self.window for q in self.pin_pos):
            return _window_bans(self.seq, pos, self.window, self.cap)
        return self.banned_now

    def advance(self, t: int, value: Any) -> None:
        """Slot t is filled: with ``value``, or (None) with the pin already in the sequence."""
        pos = self.off + t
        if value is not None:
            self.seq[pos] = value
        v = self.seq[pos]
        if v is not None:
            c = self.counts[v] = self.counts.get(v, 0) + 1
            if c == self.cap:
                self.banned_now.add(v)
        q = pos - self.window + 1  # leaves the window of the next slot
        if q >= 0 and self.seq[q] is not None:
            u = self.seq[q]
            c = self.counts[u] = self.counts[u] - 1
            if c == self.cap - 1:
                self.banned_now.discard(u)


class _ShareCap:
    """At most ``cap`` items of one category on the page (pins count from the start)."""

    def __init__(self, values: np.ndarray, pin_at: dict, cap: int) -> None:
        self.values, self.cap = values, cap
        self.counts: dict = {}
        self.banned_now: set = set()
        for i in pin_at.values():
            self._add(int(values[i]))

    def _add(self, v: int) -> None:
        c = self.counts[v] = self.counts.get(v, 0) + 1
        if c >= self.cap:
            self.banned_now.add(v)

    def banned(self, t: int) -> set:
        return self.banned_now

    def advance(self, t: int, value: Any) -> None:
        if value is not None:
            self._add(value)


class _ScoreWalk:
    """Selection by a fixed objective (no diversity): the pool sorted once by (objective desc,
    index asc) and walked from the best item still free. A slot looks at a few items in Python
    instead of masking the whole pool, which is what makes this path fast in NumPy."""

    def __init__(self, obj: np.ndarray, harmful: Any, featured: Any, pcat: Any, pauth: Any, need: int) -> None:
        # Only the best few items are ever looked at: sort those (all items tied with the last
        # of them included, so the order is exact), and sort the rest only if the walk gets there.
        self.obj = obj
        p = obj.shape[0]
        self.complete = need >= p
        if self.complete:
            self.order = np.argsort(-obj, kind="stable").tolist()
        else:
            cut = np.partition(obj, p - need)[p - need]
            top = np.flatnonzero(obj >= cut)
            self.order = top[np.argsort(-obj[top], kind="stable")].tolist()
            self.complete = top.size == p
        self.free = [True] * p
        self.head = 0
        self.harmful = harmful.tolist() if harmful is not None else None
        self.featured = featured.tolist() if featured is not None else None
        self.cat = pcat.tolist() if pcat is not None else None
        self.auth = pauth.tolist() if pauth is not None else None

    def pick(self, key_slot: bool, need_featured: bool, ban_cat: set, ban_auth: set) -> tuple[int, bool]:
        """(pool position, relaxed); position -1 when no item is allowed at all."""
        order, free = self.order, self.free
        h, n = self.head, len(order)
        while h < n and not free[order[h]]:
            h += 1
        self.head = h
        harmful = self.harmful if key_slot else None
        featured = self.featured if need_featured else None
        cat, auth = self.cat, self.auth
        first = -1
        for x in range(h, n):
            q = order[x]
            if not free[q] or (harmful is not None and harmful[q]) or (featured is not None and not featured[q]):
                continue
            if first < 0:
                first = q
            if (ban_cat and cat[q] in ban_cat) or (ban_auth and auth[q] in ban_auth):
                continue
            return q, False
        if not self.complete:
            self.order = np.argsort(-self.obj, kind="stable").tolist()
            self.complete = True
            self.head = 0
            return self.pick(key_slot, need_featured, ban_cat, ban_auth)
        return first, first >= 0

    def take(self, q: int) -> None:
        self.free[q] = False


def rank(cands: Any, user: Any, policy: Any, k: int | None = None, history: Any = None) -> BaselineResult:
    """Rank one request; same inputs and semantics as ``ranker.rank`` (docs/semantics.md)."""
    plan = plan_for(policy)
    k = plan.k if k is None else int(k)
    if k < 0:
        raise ValueError(f"k: must be >= 0, got {k}")
    n = cands.item_id.shape[0]
    emb = cands.embedding
    if emb.shape[1] != user.embedding.shape[0]:
        raise ValueError(f"user.embedding: dimension {user.embedding.shape[0]} != candidates' {emb.shape[1]}")
    flags = cands.flags
    if flags is not None and flags.size and int(flags.max()) > KNOWN_FLAGS:  # the known bits are the low five
        raise ValueError("candidates.flags: unknown flag bits")
    personalized = user.personalized

    # Step 0: minor-mode gates.
    status = S_OK
    if user.minor_mode:
        if user.local_minute is None or user.usage_minutes_today is None:
            raise ValueError("user.local_minute: minor mode needs local_minute and usage_minutes_today")
        if cands.min_age is None:
            raise ValueError("candidates.min_age: required in minor mode")
        status = _minor_status(plan, user)

    # Step 1: eligibility.
    codes = _eligibility(plan, cands, user, n)
    counts = np.bincount(codes, minlength=N_DROPS).astype(np.int64)

    # Pins (policy order): candidate index of the first occurrence, status.
    pin_status: list[int] = []
    pin_index: list[int] = []
    pinned_idx: list[int] = []
    for item, slot in plan.pins:
        hits = np.flatnonzero(cands.item_id == item)
        if hits.size == 0:
            pin_status.append(P_NOT_IN_CANDIDATES)
            pin_index.append(-1)
            continue
        i = int(hits[0])
        pinned_idx.append(i)
        pin_index.append(i)
        if codes[i] != D_ELIGIBLE:
            pin_status.append(P_INELIGIBLE)
        elif slot >= k:
            pin_status.append(P_BEYOND_K)
        elif slot < plan.key_count and flags is not None and flags[i] & F_HARMFUL:
            pin_status.append(P_HARMFUL_IN_KEY_SLOT)
        else:
            pin_status.append(P_PLACED)

    empty_f = np.zeros(0, dtype=np.float64)
    empty_i = np.zeros(0, dtype=np.int64)
    if status != S_OK:
        return BaselineResult(empty_i, empty_i.copy(), empty_f, np.zeros(0, np.uint32), empty_f.copy(), codes,
                              counts, [P_NOT_SERVED] * len(plan.pins), status, k)

    # Step 2: scores (computed for all rows with one product; only eligible rows are read).
    # Non-finite values are refused: a NaN or inf in an embedding row always makes its dot
    # product with a finite user embedding non-finite, so checking the products checks the rows.
    _check_finite(cands.prior, "candidates.prior")
    emb_checked = False
    if personalized:
        _check_finite(user.embedding, "user.embedding")
        scores = plan.w_prior * cands.prior.astype(np.float64)
        if plan.w_rel != 0.0:
            dots = emb @ user.embedding
            _check_finite(dots, "candidates.embedding")
            emb_checked = True
            scores += plan.w_rel * dots.astype(np.float64)
        act_ids, act_w = _active_tag_weights(plan, user)
        tsum, tag_hit = _tag_sums(cands, n, act_ids, act_w)
        if plan.w_tag != 0.0:
            scores += plan.w_tag * tsum
        base_reason = R_PERSONAL if plan.w_rel != 0.0 else 0
    else:
        scores = plan.w_prior * cands.prior.astype(np.float64)
        tag_hit = None
        base_reason = R_NON_PERSONALIZED
    if plan.w_prior != 0.0:
        base_reason |= R_PRIOR
    tag_reason = personalized and plan.w_tag != 0.0

    # Placed pins by slot.
    pin_at: dict[int, int] = {}
    for (item, slot), st, i in zip(plan.pins, pin_status, pin_index):
        if st == P_PLACED:
            pin_at[slot] = i

    # Pool: eligible, not pinned, optionally the best M by (score desc, index asc). Pool
    # positions are in candidate-index order, so argmax's first maximum is the lowest index.
    elig = codes == D_ELIGIBLE
    if pinned_idx:
        elig[pinned_idx] = False
    pool = np.flatnonzero(elig)
    if plan.top_m > 0 and pool.size > plan.top_m:
        best = np.argsort(-scores[pool], kind="stable")[:plan.top_m]
        pool = np.sort(pool[best])
    p = pool.size
    ps = scores[pool]
    pflags = flags[pool] if flags is not None else None
    harmful = (pflags & F_HARMFUL) != 0 if pflags is not None else None
    featured = (pflags & F_FEATURED) != 0 if pflags is not None else None

    # Scatter: each cap names the values it bans at the current slot; a per-item count of the
    # bans it is under is updated by the change of those sets (a few items per slot).
    hcat, hauth, hemb = _history_parts(history)
    share_on = plan.share < 1.0
    if (plan.cat_window > 0 or share_on) and cands.category is None:
        raise ValueError("candidates.category: required by the category scatter rules")
    if plan.auth_window > 0 and cands.author is None:
        raise ValueError("candidates.author: required by the author window rule")
    method = plan.method
    walk = method == "none"  # a fixed objective: walk the sorted pool (see _ScoreWalk)
    pcat = cands.category[pool] if (plan.cat_window > 0 or share_on) else None
    pauth = cands.author[pool] if plan.auth_window > 0 else None
    cat_caps: list = []
    auth_caps: list = []
    if plan.cat_window > 0:
        cat_caps.append(_WindowCap(hcat, cands.category, pin_at, plan.cat_window, plan.cat_max, k))
    if share_on:
        cat_caps.append(_ShareCap(cands.category, pin_at, max(1, math.floor(plan.share * k + 1e-9))))
    if plan.auth_window > 0:
        auth_caps.append(_WindowCap(hauth, cands.author, pin_at, plan.auth_window, plan.auth_max, k))
    all_caps = cat_caps + auth_caps
    pcat_l = pcat.tolist() if cat_caps else None
    pauth_l = pauth.tolist() if auth_caps else None
    # Mask path: [cap, groups of pool positions by value, the values applied to ``blocked``].
    caps: list = []
    if not walk:
        cat_groups = _Groups(pcat) if cat_caps else None
        caps = [[c, cat_groups, set()] for c in cat_caps]
        if auth_caps:
            caps.append([auth_caps[0], _Groups(pauth), set()])
    blocked = np.zeros(p, dtype=np.int32) if caps else None
    n_blocks = 0

    # Objectives, with -inf for items already selected.
    walker = _ScoreWalk(ps, harmful, featured, pcat, pauth, WALK_PER_SLOT * k + WALK_EXTRA) if walk else None
    sobj = ps.copy()
    avail = np.ones(p, dtype=bool)
    pin_rows = [i for _, i in sorted(pin_at.items())]
    if method in ("mmr", "dpp") and p:
        d = emb.shape[1]
        e = np.take(emb, pool, axis=0, out=_WS.get("pool32", (p, d), np.float32))
        if not emb_checked:
            _check_finite(e, "candidates.embedding")
        # cosine = dot of unit rows (zero rows stay zero: cosine 0). The DPP residuals are
        # compared with EPS = 1e-10, far below float32 rounding (~1e-7), so its kernel is double.
        if method == "dpp":
            en = _unit_rows(e, out=_WS.get("pool64", (p, d), np.float64))
        else:
            en = _unit_rows(e, out=e)
    if method == "mmr" and p:
        cmmr = 1.0 - plan.lam
        rel = plan.lam * ps
        anchors = []
        if hemb is not None and len(hemb):
            anchors.append(hemb)
        if pin_rows:
            anchors.append(emb[pin_rows])
        if anchors:
            maxsim = (en @ _unit_rows(np.concatenate(anchors)).T).max(axis=1)
            obj = rel - cmmr * maxsim
        else:
            maxsim = None
            obj = rel.copy()
    elif method == "dpp" and p:
        # Rows 0..p-1 are pool items, rows p.. the placed pins (in the kernel, never selectable).
        npin = len(pin_rows)
        if npin:
            en_all = np.concatenate([en, _unit_rows(emb[pin_rows].astype(np.float64))])
            s_all = np.concatenate([ps, scores[pin_rows]])
        else:
            en_all, s_all = en, ps
        r = np.exp(plan.alpha * (s_all - s_all.max()))
        d2 = r * r
        d2[~en_all.any(axis=1)] = 0.0  # L_ii = r_i^2 cos(e_i, e_i): 0 for a zero row
        chol = _WS.get("chol", (min(k, p + npin), p + npin), np.float64)
        basis = 0

        def add_basis(j: int) -> None:
            """Chen et al. step: the new Cholesky entry of every item at once."""
            nonlocal basis
            row = en_all @ en_all[j]
            row *= r[j] * r
            row[j] = r[j] * r[j]
            if basis:
                row -= chol[:basis, j] @ chol[:basis]
            row /= math.sqrt(d2[j])
            chol[basis] = row
            basis += 1
            d2[:] -= row * row

        for q in range(p, p + npin):
            if d2[q] > DPP_EPS and basis < chol.shape[0]:
                add_basis(q)
        dobj = d2[:p]  # a view: the objective of pool items
        dpp_fill = False

    # Step 3: selection, slot by slot.
    key_count = min(plan.key_count, k)
    have_featured = 0
    if key_count and plan.featured_min and flags is not None:
        have_featured = sum(1 for s, i in pin_at.items() if s < key_count and flags[i] & F_FEATURED)
    out_idx: list[int] = []
    out_reason: list[int] = []
    n_avail = p
    end = k

    def place(t: int, j: int, reason: int) -> None:
        """Pool item j fills slot t: out of the pool, into the output, the window counts and
        the featured quota."""
        nonlocal n_avail, have_featured
        avail[j] = False
        n_avail -= 1
        out_idx.append(int(pool[j]))
        out_reason.append(reason)
        for cap in cat_caps:
            cap.advance(t, pcat_l[j])
        for cap in auth_caps:
            cap.advance(t, pauth_l[j])
        if t < key_count and featured is not None and featured[j]:
            have_featured += 1

    for t in range(k):
        if t in pin_at:
            out_idx.append(pin_at[t])
            out_reason.append(R_EDITORIAL)
            for cap in all_caps:
                cap.advance(t, None)
            continue
        # Hard constraints: only key slots add any beyond "not selected yet".
        keymask = None
        need_featured = False
        if t < key_count and pflags is not None:
            keymask = avail & ~harmful
            if plan.featured_min:
                open_slots = key_count - t - sum(1 for s in pin_at if t <= s < key_count)
                if plan.featured_min - have_featured >= open_slots:
                    kf = keymask & featured
                    if kf.any():
                        keymask = kf
                        need_featured = True
            if not keymask.any():
                end = t
                break
        elif n_avail == 0:
            end = t
            break
        if walker is not None:
            ban_cat: set = set()
            for cap in cat_caps:
                b = cap.banned(t)
                if b:
                    ban_cat = ban_cat | b if ban_cat else b
            ban_auth = auth_caps[0].banned(t) if auth_caps else set()
            j, relaxed = walker.pick(keymask is not None, need_featured, ban_cat, ban_auth)
            walker.take(j)
            place(t, j, R_SCATTER_RELAXED if relaxed else 0)
            continue
        # Scatter bans for this slot.
        if caps:
            for cap in caps:
                target = cap[0].banned(t)
                applied = cap[2]
                if target != applied:
                    groups = cap[1]
                    for v in target - applied:
                        blocked[groups.members(v)] += 1
                        n_blocks += 1
                    for v in applied - target:
                        blocked[groups.members(v)] -= 1
                        n_blocks -= 1
                    cap[2] = set(target)
        # The objective of this slot.
        reason = 0
        if method == "mmr":
            cur = obj
            reason = R_DIVERSITY
        elif method == "dpp" and not dpp_fill:
            cur = dobj
            reason = R_DIVERSITY
        else:
            cur = sobj
        j, relaxed = _pick(cur, keymask, blocked if n_blocks else None)
        if method == "dpp" and not dpp_fill and cur[j] <= DPP_EPS:
            dpp_fill = True
            reason = R_SCORE_FILL
            j, relaxed = _pick(sobj, keymask, blocked if n_blocks else None)
        elif method == "dpp" and dpp_fill:
            reason = R_SCORE_FILL
        if relaxed:
            reason |= R_SCATTER_RELAXED
        sobj[j] = NEG_INF
        place(t, j, reason)
        # State updates for the next slot.
        last = t + 1 >= k
        if method == "mmr" and not last:
            rel[j] = NEG_INF
            sim = en @ en[j]
            if maxsim is None:
                maxsim = sim
            else:
                np.maximum(maxsim, sim, out=maxsim)
            obj = rel - cmmr * maxsim
        elif method == "dpp" and not dpp_fill and not last:
            add_basis(j)
            d2[j] = NEG_INF
        elif method == "dpp":
            d2[j] = NEG_INF

    # Pins that selection never reached.
    if end < k:
        for n_pin, ((item, slot), st) in enumerate(zip(plan.pins, pin_status)):
            if st == P_PLACED and slot >= end:
                pin_status[n_pin] = P_UNREACHED

    # Step 4: output.
    idx = np.asarray(out_idx, dtype=np.int64)
    reasons = np.asarray(out_reason, dtype=np.uint32) | np.uint32(base_reason)
    if flags is not None and idx.size:
        reasons[(flags[idx] & F_FEATURED) != 0] |= R_FEATURED
    if tag_reason and idx.size:
        reasons[tag_hit[idx]] |= R_TAG_MATCH
    if cands.offered_price is not None and idx.size:
        o = cands.offered_price[idx]
        rp = cands.reference_price[idx]
        has = ~(np.isnan(o) | np.isnan(rp))
        prices = np.where(has, o, np.nan)
        if plan.price_action in ("clamp", "flag"):
            viol = has & (np.abs(o - rp) > plan.abs_tol + plan.rel_tol * np.abs(rp))
            if plan.price_action == "clamp":
                prices = np.where(viol, rp, prices)
                reasons[viol] |= R_PRICE_CLAMPED
            else:
                reasons[viol] |= R_PRICE_FLAGGED
    else:
        prices = np.full(idx.size, np.nan)
    return BaselineResult(idx, cands.item_id[idx], scores[idx], reasons, prices, codes, counts, pin_status,
                          status, k)
