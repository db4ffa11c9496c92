"""The reference implementation: the executable specification of the ranking pipeline.

Plain Python and the standard library only, written to be read beside docs/semantics.md,
section by section: validation, step 0 (request gates), step 1 (eligibility), step 2
(scores), step 3 (selection), step 4 (output). It favours clarity over speed; the native core
(src/ranker) is the fast version and must agree with this file: exactly for drop codes,
counts, statuses and pin statuses, and by the certificate rule for the selected sequence.

The selection step is a :class:`Selector` that knows, for any prefix of placed items, which
items each slot allows and what their objectives are. The reference's own ranking and the
certificate replay of a native result (``ranker.compare``) both drive that one class, so the
check and the spec cannot drift apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional

# Integer codes, as in ranker.enums (kept literal here so this file reads on its own).
BLOCKED, HARMFUL, SYNTHETIC, SYNTHETIC_LABELED, FEATURED = 1, 2, 4, 8, 16
KNOWN_FLAGS = 31
(ELIGIBLE, DUPLICATE, DROP_BLOCKED, UNLABELED_SYNTHETIC, MINOR_AGE, MINOR_HARMFUL, FRAUD_RISK,
 PRICE_PARITY, DELETED_TAG, SEEN) = range(10)
N_DROP_CODES = 10
(R_PERSONAL, R_TAG_MATCH, R_PRIOR, R_NON_PERSONALIZED, R_EDITORIAL, R_FEATURED, R_DIVERSITY,
 R_SCATTER_RELAXED, R_PRICE_CLAMPED, R_PRICE_FLAGGED, R_SCORE_FILL) = (1 << b for b in range(11))
STATUS_OK, STATUS_CURFEW, STATUS_DAILY_LIMIT = 0, 1, 2
(PIN_PLACED, PIN_NOT_IN_CANDIDATES, PIN_INELIGIBLE, PIN_BEYOND_K, PIN_HARMFUL_IN_KEY_SLOT,
 PIN_UNREACHED, PIN_NOT_SERVED) = range(7)
DPP_EPS = 1e-10


@dataclass
class Request:
    """One request as plain Python values (``ranker.api`` builds it from the numpy inputs)."""

    item_id: list          # int per candidate
    embedding: list        # n lists of d floats
    d: int
    prior: list
    policy: dict           # Policy.to_dict(): the normalised TOML shape
    k: int
    category: Optional[list] = None
    author: Optional[list] = None
    tag_indptr: Optional[list] = None   # CSR: tags of item i are tag_ids[tag_indptr[i]:tag_indptr[i+1]]
    tag_ids: Optional[list] = None
    flags: Optional[list] = None
    min_age: Optional[list] = None
    fraud_risk: Optional[list] = None
    offered_price: Optional[list] = None
    reference_price: Optional[list] = None
    user_embedding: list = field(default_factory=list)
    user_tag_ids: list = field(default_factory=list)
    user_tag_weights: list = field(default_factory=list)
    personalized: bool = True
    deleted_tags: list = field(default_factory=list)
    minor_mode: bool = False
    age: Optional[int] = None
    elderly: bool = False
    local_minute: Optional[int] = None
    usage_minutes_today: Optional[int] = None
    seen: list = field(default_factory=list)
    history_categories: Optional[list] = None
    history_authors: Optional[list] = None
    history_embeddings: Optional[list] = None


@dataclass
class Outcome:
    """What the pipeline returns; ``ranker.api`` wraps it into a RankResult."""

    status: int
    indices: list
    scores: list
    reasons: list
    prices: list
    drop_codes: list
    counts: list
    pin_status: list


def rank(req: Request) -> Outcome:
    validate(req)
    drop_codes = eligibility(req)
    counts = [drop_codes.count(code) for code in range(N_DROP_CODES)]
    status = request_gate(req)
    if status != STATUS_OK:
        return Outcome(status, [], [], [], [], drop_codes, counts, [PIN_NOT_SERVED] * len(req.policy["pins"]))
    scores = compute_scores(req, drop_codes)
    selector = Selector(req, drop_codes, scores)
    while not selector.done:
        options = selector.options()
        if options.ended:
            selector.end()
            break
        selector.place(options.best, options)
    return selector.outcome(drop_codes, counts)


# --------------------------------------------------------------------------------------------
# Validation: every value both backends read is checked before anything is computed, and every
# message starts with the field's name. Errors are ValueError (the data has the right type but an
# impossible value); type problems were already refused when the numpy inputs were built.


def _fail(field_name: str, message: str) -> None:
    raise ValueError(f"{field_name}: {message}")


def _is_finite(x: float) -> bool:
    return not (math.isnan(x) or math.isinf(x))


def validate(req: Request) -> None:
    n, d = len(req.item_id), req.d
    if req.k < 0:
        _fail("k", f"must be at least 0, got {req.k}")
    for i, row in enumerate(req.embedding):
        for x in row:
            if not _is_finite(x):
                _fail("candidates.embedding", f"row {i} holds {x}; embeddings must be finite")
    for i, x in enumerate(req.prior):
        if not _is_finite(x):
            _fail("candidates.prior", f"value at index {i} is {x}; prior must be finite")
    if req.tag_indptr is not None:
        ptr = req.tag_indptr
        if ptr[0] != 0 or ptr[n] != len(req.tag_ids):
            _fail("candidates.tags", f"CSR indptr must start at 0 and end at len(tag_ids) = {len(req.tag_ids)}, "
                                     f"got {ptr[0]} .. {ptr[n]}")
        for i in range(n):
            if ptr[i + 1] < ptr[i]:
                _fail("candidates.tags", f"CSR indptr decreases at index {i}")
        for t in req.tag_ids:
            if t < 0:
                _fail("candidates.tags", f"tag id {t} is negative; tag ids must be >= 0")
    if req.flags is not None:
        for i, f in enumerate(req.flags):
            if f & ~KNOWN_FLAGS:
                _fail("candidates.flags", f"value at index {i} ({f}) has bits outside the known flags "
                                          f"(mask {KNOWN_FLAGS}); unknown flags cannot be applied")
    if req.fraud_risk is not None:
        for i, r in enumerate(req.fraud_risk):
            if not 0.0 <= r <= 1.0:
                _fail("candidates.fraud_risk", f"value at index {i} is {r}; fraud_risk must be in [0, 1]")
    for name in ("offered_price", "reference_price"):
        values = getattr(req, name)
        if values is not None:
            for i, p in enumerate(values):
                if not math.isnan(p) and (math.isinf(p) or p < 0):
                    _fail(f"candidates.{name}", f"value at index {i} is {p}; prices must be finite and >= 0 "
                                                f"(NaN = no price)")
    if len(req.user_embedding) != d:
        _fail("user.embedding", f"has dimension {len(req.user_embedding)} but the candidates have d = {d}")
    for x in req.user_embedding:
        if not _is_finite(x):
            _fail("user.embedding", f"holds {x}; embeddings must be finite")
    for t in req.user_tag_ids:
        if t < 0:
            _fail("user.tags", f"tag id {t} is negative; tag ids must be >= 0")
    for w in req.user_tag_weights:
        if not _is_finite(w):
            _fail("user.tags", f"weight {w} is not finite")
    for t in req.deleted_tags:
        if t < 0:
            _fail("user.deleted_tags", f"tag id {t} is negative; tag ids must be >= 0")
    if req.age is not None and not 0 <= req.age <= 150:
        _fail("user.age", f"must be in [0, 150] or None, got {req.age}")
    if req.local_minute is not None and not 0 <= req.local_minute < 1440:
        _fail("user.local_minute", f"must be in [0, 1440), got {req.local_minute}")
    if req.usage_minutes_today is not None and req.usage_minutes_today < 0:
        _fail("user.usage_minutes_today", f"must be >= 0, got {req.usage_minutes_today}")
    if req.history_embeddings is not None:
        for row in req.history_embeddings:
            if len(row) != d:
                _fail("history.embeddings", f"have dimension {len(row)} but the candidates have d = {d}")
            for x in row:
                if not _is_finite(x):
                    _fail("history.embeddings", f"hold {x}; embeddings must be finite")
    _require_fields_for_applicable_rules(req)


def _require_fields_for_applicable_rules(req: Request) -> None:
    """Fail closed: a rule that applies but lacks its input raises rather than being skipped."""
    p = req.policy
    if req.minor_mode:
        if req.min_age is None:
            _fail("candidates.min_age", "is required in minor mode (pass uint8 ages, 0 = all ages)")
        if req.local_minute is None:
            _fail("user.local_minute", "is required in minor mode (the curfew needs the user's local time)")
        if req.usage_minutes_today is None:
            _fail("user.usage_minutes_today", "is required in minor mode (the daily limit needs it)")
    if fraud_threshold(req) < 1.0 and req.fraud_risk is None:
        _fail("candidates.fraud_risk", "is required: the policy's fraud threshold applies to this user")
    if suppresses_deleted_tags(req) and req.tag_indptr is None:
        _fail("candidates.tags", "are required: the user deleted tags and the policy suppresses items carrying them")
    sc = p["scatter"]
    if sc["category_window"] > 0 and req.category is None:
        _fail("candidates.category", "is required by the policy's category window (scatter.category_window)")
    if sc["author_window"] > 0 and req.author is None:
        _fail("candidates.author", "is required by the policy's author window (scatter.author_window)")
    if sc["category_share"] < 1.0 and req.category is None:
        _fail("candidates.category", "is required by the policy's category share cap (scatter.category_share)")
    for attribute, window in (("categories", sc["category_window"]), ("authors", sc["author_window"])):
        history = getattr(req, "history_" + attribute)
        shown = max(len(req.history_categories or []), len(req.history_authors or []),
                    len(req.history_embeddings or []))
        if window > 0 and shown > 0 and history is None:
            _fail(f"history.{attribute}", "are required: earlier pages were shown and the policy has a window "
                                          "over them (pass the previous RankResult, or History with this field)")


def fraud_threshold(req: Request) -> float:
    f = req.policy["fraud"]
    return min(f["max_risk"], f["elderly_max_risk"]) if req.elderly else f["max_risk"]


def suppresses_deleted_tags(req: Request) -> bool:
    # Opted-out requests must not depend on deleted tags at all (Art. 17), so no suppression there.
    return req.personalized and req.policy["tags"]["deletion"] == "suppress" and len(req.deleted_tags) > 0


# --------------------------------------------------------------------------------------------
# Step 0: request-level gates (minor mode curfew and daily limit).


def clock_minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def request_gate(req: Request) -> int:
    if not req.minor_mode:
        return STATUS_OK
    minor = req.policy["minor"]
    start, end, now = clock_minutes(minor["curfew_start"]), clock_minutes(minor["curfew_end"]), req.local_minute
    if start < end:
        in_curfew = start <= now < end
    elif start > end:  # the curfew wraps around midnight
        in_curfew = now >= start or now < end
    else:
        in_curfew = False
    if in_curfew:
        return STATUS_CURFEW
    limit = daily_limit(minor["daily_minutes"], req.age)
    if limit is not None and req.usage_minutes_today >= limit:
        return STATUS_DAILY_LIMIT
    return STATUS_OK


def daily_limit(daily_minutes: dict, age: Optional[int]) -> Optional[int]:
    """Minutes allowed today: the band is the smallest age key above the user's age; unknown age
    takes the youngest band; at or above every key there is no limit."""
    bands = sorted((int(key), minutes) for key, minutes in daily_minutes.items())
    if not bands:
        return None
    if age is None:
        return bands[0][1]
    for upper_age, minutes in bands:
        if age < upper_age:
            return minutes
    return None


# --------------------------------------------------------------------------------------------
# Step 1: eligibility. Each candidate gets the code of the first rule that removes it.


def item_tags(req: Request, i: int) -> list:
    if req.tag_indptr is None:
        return []
    return req.tag_ids[req.tag_indptr[i]:req.tag_indptr[i + 1]]


def has_price(req: Request, i: int) -> bool:
    return (req.offered_price is not None
            and not math.isnan(req.offered_price[i]) and not math.isnan(req.reference_price[i]))


def violates_price_parity(req: Request, i: int) -> bool:
    if not has_price(req, i):
        return False
    o, r = req.offered_price[i], req.reference_price[i]
    price = req.policy["price"]
    return abs(o - r) > price["abs_tol"] + price["rel_tol"] * abs(r)


def eligibility(req: Request) -> list:
    n = len(req.item_id)
    flags = req.flags if req.flags is not None else [0] * n
    min_age = req.min_age if req.min_age is not None else [0] * n
    age_gate = None  # the age the min_age gate compares against, None = no gate
    if req.minor_mode:
        age_gate = req.age if req.age is not None else 0
    elif req.age is not None:
        age_gate = req.age
    threshold = fraud_threshold(req)
    drop_by_price = req.policy["price"]["action"] == "drop"
    deleted = set(req.deleted_tags) if suppresses_deleted_tags(req) else set()
    seen = set(req.seen)

    codes, first_seen = [], set()
    for i in range(n):
        f = flags[i]
        if req.item_id[i] in first_seen:
            code = DUPLICATE
        elif f & BLOCKED:
            code = DROP_BLOCKED
        elif f & SYNTHETIC and not f & SYNTHETIC_LABELED:
            code = UNLABELED_SYNTHETIC
        elif age_gate is not None and min_age[i] > age_gate:
            code = MINOR_AGE
        elif req.minor_mode and f & HARMFUL:
            code = MINOR_HARMFUL
        elif threshold < 1.0 and req.fraud_risk[i] > threshold:
            code = FRAUD_RISK
        elif drop_by_price and violates_price_parity(req, i):
            code = PRICE_PARITY
        elif deleted and any(t in deleted for t in item_tags(req, i)):
            code = DELETED_TAG
        elif req.item_id[i] in seen:
            code = SEEN
        else:
            code = ELIGIBLE
        first_seen.add(req.item_id[i])
        codes.append(code)
    return codes


# --------------------------------------------------------------------------------------------
# Step 2: scores of eligible items.


def active_interests(req: Request) -> dict:
    """The user's interest tags that may be used: deleted and forbidden tags count as never given."""
    removed = set(req.deleted_tags) | set(req.policy["tags"]["forbidden"])
    return {t: w for t, w in zip(req.user_tag_ids, req.user_tag_weights) if t not in removed}


def dot(a: list, b: list) -> float:
    return math.fsum(x * y for x, y in zip(a, b))


def compute_scores(req: Request, drop_codes: list) -> dict:
    w = req.policy["weights"]
    interests = active_interests(req) if req.personalized else {}
    scores = {}
    for i, code in enumerate(drop_codes):
        if code != ELIGIBLE:
            continue
        if req.personalized:
            tag_sum = sum(interests.get(t, 0.0) for t in set(item_tags(req, i)))
            scores[i] = (w["relevance"] * dot(req.user_embedding, req.embedding[i])
                         + w["tag"] * tag_sum + w["prior"] * req.prior[i])
        else:
            scores[i] = w["prior"] * req.prior[i]
        if not _is_finite(scores[i]):
            _fail("candidates.embedding", f"the score of item {i} overflows ({scores[i]}); "
                                          f"embeddings, priors or weights are far too large")
    return scores


# --------------------------------------------------------------------------------------------
# Step 3: selection, slot by slot.


@dataclass
class SlotOptions:
    """What a slot allows, given everything placed before it."""

    slot: int
    ended: bool = False          # no item may fill this slot: selection ends here
    ok: list = field(default_factory=list)   # the items allowed at this slot
    relaxed: bool = False        # scatter caps were relaxed for this slot
    score_fill: bool = False     # DPP was exhausted: the slot is chosen by score
    objective: dict = field(default_factory=dict)   # item -> objective value, for every item in ok
    best: Optional[int] = None   # argmax of objective over ok, ties to the lower index
    pinned: bool = False         # a placed pin fills this slot


def norm(v: list) -> float:
    return math.sqrt(math.fsum(x * x for x in v))


class Selector:
    """The state of selection: what is placed where, plus the MMR/DPP state over the pool."""

    def __init__(self, req: Request, drop_codes: list, scores: dict, pool: Optional[set] = None) -> None:
        """``pool`` replaces the pool of step 3 (the certificate uses it for truncation ties)."""
        self.req, self.scores = req, scores
        p = req.policy
        self.k = req.k
        self.method = p["diversity"]["method"]
        self.key_count = min(p["key_slots"]["count"], self.k)
        self.featured_min = p["key_slots"]["featured_min"]
        n = len(req.item_id)
        self.flags = req.flags if req.flags is not None else [0] * n
        self.slots = [None] * self.k       # candidate index per slot, None = not filled
        self.t = 0                         # the next slot to decide
        self.done = self.k == 0
        self.ended_at = None
        self.relaxed_slots, self.fill_slots, self.diversity_slots = set(), set(), set()
        self._place_pins(drop_codes)
        self._make_pool(drop_codes, pool)
        self._norms = {}
        self._init_objective_state()

    # Pins and pool -------------------------------------------------------------------------
    def _place_pins(self, drop_codes: list) -> None:
        first_index = {}
        for i, item in enumerate(self.req.item_id):
            first_index.setdefault(item, i)
        self.pin_status, self.pin_slot_of = [], {}
        self.pinned_items = set()
        for pin in self.req.policy["pins"]:
            i = first_index.get(pin["item_id"])
            if i is None:
                status = PIN_NOT_IN_CANDIDATES
            else:
                self.pinned_items.add(i)   # a pinned item is reserved for its slot, placed or not
                if drop_codes[i] != ELIGIBLE:
                    status = PIN_INELIGIBLE
                elif pin["slot"] >= self.k:
                    status = PIN_BEYOND_K
                elif self.flags[i] & HARMFUL and pin["slot"] < self.req.policy["key_slots"]["count"]:
                    status = PIN_HARMFUL_IN_KEY_SLOT
                else:
                    status = PIN_PLACED
                    self.slots[pin["slot"]] = i
                    self.pin_slot_of[i] = pin["slot"]
            self.pin_status.append(status)

    def _make_pool(self, drop_codes: list, given: Optional[set]) -> None:
        self.selected = set()
        if given is not None:
            self.pool = set(given)
            return
        pool = [i for i, code in enumerate(drop_codes) if code == ELIGIBLE and i not in self.pinned_items]
        limit = self.req.policy["diversity"]["candidates"]
        if limit > 0 and len(pool) > limit:
            pool = sorted(pool, key=lambda i: (-self.scores[i], i))[:limit]
        self.pool = set(pool)

    def placed_pins_in_slot_order(self) -> list:
        return [i for _, i in sorted((s, i) for i, s in self.pin_slot_of.items())]

    # Objectives ------------------------------------------------------------------------------
    def cosine(self, a: list, b: list) -> float:
        na, nb = norm(a), norm(b)
        if na == 0.0 or nb == 0.0:
            return 0.0
        return dot(a, b) / (na * nb)

    def item_norm(self, i: int) -> float:
        if i not in self._norms:
            self._norms[i] = norm(self.req.embedding[i])
        return self._norms[i]

    def item_cosine(self, i: int, j: int) -> float:
        ni, nj = self.item_norm(i), self.item_norm(j)
        if ni == 0.0 or nj == 0.0:
            return 0.0
        return dot(self.req.embedding[i], self.req.embedding[j]) / (ni * nj)

    def _init_objective_state(self) -> None:
        req = self.req
        if self.method == "mmr":
            # max cosine of each pool item to everything placed (history, pins, selected); None = nothing placed
            self.max_sim = {i: None for i in self.pool}
            for h in req.history_embeddings or []:
                for i in self.pool:
                    self._raise_sim(i, self.cosine(req.embedding[i], h))
            for j in self.placed_pins_in_slot_order():
                self._mmr_add(j)
        elif self.method == "dpp":
            # Greedy MAP inference for a DPP (Chen, Zhang, Zhou 2018): incremental Cholesky state.
            alpha = req.policy["diversity"]["alpha"]
            members = self.pool | set(self.pin_slot_of)
            s_max = max((self.scores[i] for i in members), default=0.0)
            self.r = {i: math.exp(alpha * (self.scores[i] - s_max)) for i in members}
            self.c = {i: [] for i in members}
            # L_ii = r_i^2 * cos(e_i, e_i); a cosine with a zero vector is 0, so a zero row never gains.
            self.d2 = {i: self.r[i] ** 2 if self.item_norm(i) > 0.0 else 0.0 for i in members}
            self.basis = []
            self.dpp_exhausted = False
            for j in self.placed_pins_in_slot_order():
                self._dpp_add(j)

    def _raise_sim(self, i: int, sim: float) -> None:
        if self.max_sim[i] is None or sim > self.max_sim[i]:
            self.max_sim[i] = sim

    def _mmr_add(self, j: int) -> None:
        for i in self.pool:
            if i not in self.selected:
                self._raise_sim(i, self.item_cosine(i, j))

    def _dpp_add(self, j: int) -> None:
        """Add j to the Cholesky basis; items whose residual is already ~0 add nothing."""
        if self.d2[j] <= DPP_EPS:
            return
        dj = math.sqrt(self.d2[j])
        cj = list(self.c[j])
        for i in self.c:
            if i == j or i in self.selected or i in self.basis:
                continue
            l_ji = self.r[j] * self.r[i] * self.item_cosine(j, i)
            e = (l_ji - math.fsum(a * b for a, b in zip(cj, self.c[i]))) / dj
            self.c[i].append(e)
            self.d2[i] -= e * e
        self.c[j].append(dj)
        self.d2[j] = 0.0
        self.basis.append(j)

    def mmr_value(self, i: int) -> float:
        lam = self.req.policy["diversity"]["lambda"]
        penalty = self.max_sim[i] if self.max_sim[i] is not None else 0.0
        return lam * self.scores[i] - (1.0 - lam) * penalty

    # Constraints -----------------------------------------------------------------------------
    def _history(self, attribute: str) -> list:
        values = getattr(self.req, "history_" + attribute)
        return list(values) if values is not None else []

    def _value_at(self, slot: int, attribute: str, history: list) -> Any:
        """The category/author at a slot of the combined sequence (history at negative slots)."""
        if slot < 0:
            return history[len(history) + slot] if -slot <= len(history) else None
        if slot >= self.k or self.slots[slot] is None:
            return None
        return getattr(self.req, attribute)[self.slots[slot]]

    def window_allows(self, i: int, attribute: str, window: int, cap: int) -> bool:
        t = self.t
        value = getattr(self.req, attribute)[i]
        history = self._history("categories" if attribute == "category" else "authors")
        for start in range(t - window + 1, t + 1):
            same = sum(1 for s in range(start, start + window)
                       if s != t and self._value_at(s, attribute, history) == value)
            if same + 1 > cap:
                return False
        return True

    def share_allows(self, i: int, cap: int) -> bool:
        category = self.req.category[i]
        same = sum(1 for j in self.slots if j is not None and self.req.category[j] == category)
        return same + 1 <= cap

    def scatter_allows(self, i: int) -> bool:
        sc = self.req.policy["scatter"]
        if sc["category_window"] > 0 and not self.window_allows(i, "category", sc["category_window"],
                                                                sc["category_max"]):
            return False
        if sc["author_window"] > 0 and not self.window_allows(i, "author", sc["author_window"], sc["author_max"]):
            return False
        if sc["category_share"] < 1.0:
            cap = max(1, math.floor(sc["category_share"] * self.k + 1e-9))
            if not self.share_allows(i, cap):
                return False
        return True

    def featured_required(self) -> bool:
        t = self.t
        if t >= self.key_count or self.featured_min == 0:
            return False
        have = sum(1 for s in range(self.key_count)
                   if self.slots[s] is not None and self.flags[self.slots[s]] & FEATURED)
        still_open = sum(1 for s in range(t, self.key_count) if self.slots[s] is None)
        return self.featured_min - have >= still_open

    # The slot decision -------------------------------------------------------------------------
    def options(self) -> SlotOptions:
        t = self.t
        if self.slots[t] is not None:
            return SlotOptions(slot=t, pinned=True, best=self.slots[t])
        hard = [i for i in sorted(self.pool - self.selected)
                if not (t < self.key_count and self.flags[i] & HARMFUL)]
        if self.featured_required():
            featured = [i for i in hard if self.flags[i] & FEATURED]
            if featured:
                hard = featured
        if not hard:
            return SlotOptions(slot=t, ended=True)
        ok = [i for i in hard if self.scatter_allows(i)]
        relaxed = not ok
        if relaxed:
            ok = hard
        score_fill = self.method == "dpp" and (self.dpp_exhausted or max(self.d2[i] for i in ok) <= DPP_EPS)
        opts = SlotOptions(slot=t, ok=ok, relaxed=relaxed, score_fill=score_fill)
        opts.objective = self.objective_values(ok, score_fill)
        opts.best = max(ok, key=lambda i: (opts.objective[i], -i))
        return opts

    def objective_values(self, items: list, score_fill: bool) -> dict:
        """The objective the method maximises, for each of ``items``."""
        if self.method == "mmr":
            return {i: self.mmr_value(i) for i in items}
        if self.method == "dpp" and not score_fill:
            return {i: self.d2[i] for i in items}
        return {i: self.scores[i] for i in items}

    def place(self, i: int, opts: SlotOptions, force_score_fill: Optional[bool] = None) -> None:
        """Put item i in the current slot and move on. ``force_score_fill`` lets the certificate
        replay follow the native side's DPP mode when the switch point is a floating-point tie."""
        t = self.t
        if not opts.pinned:
            score_fill = opts.score_fill if force_score_fill is None else force_score_fill
            self.slots[t] = i
            self.selected.add(i)
            if opts.relaxed:
                self.relaxed_slots.add(t)
            if score_fill:
                self.fill_slots.add(t)
                self.dpp_exhausted = True
            elif self.method != "none":
                self.diversity_slots.add(t)
            if self.method == "mmr":
                self._mmr_add(i)
            elif self.method == "dpp" and not score_fill:
                self._dpp_add(i)
        self.t += 1
        if self.t >= self.k:
            self.done = True

    def end(self) -> None:
        """No item can fill slot t: the page ends here; pins further on are unreached."""
        self.ended_at = self.t
        for pin_number, pin in enumerate(self.req.policy["pins"]):
            if self.pin_status[pin_number] == PIN_PLACED and pin["slot"] >= self.t:
                self.pin_status[pin_number] = PIN_UNREACHED
        for s in range(self.t, self.k):
            self.slots[s] = None
        self.done = True

    # Step 4: output --------------------------------------------------------------------------
    def outcome(self, drop_codes: list, counts: list) -> Outcome:
        req, w = self.req, self.req.policy["weights"]
        interests = active_interests(req) if req.personalized else {}
        action = req.policy["price"]["action"]
        indices = [i for i in self.slots if i is not None]
        reasons, prices = [], []
        for slot, i in enumerate(indices):
            bits = 0
            if req.personalized:
                if w["relevance"] != 0:
                    bits |= R_PERSONAL
                if w["tag"] != 0 and any(interests.get(t, 0.0) != 0 for t in item_tags(req, i)):
                    bits |= R_TAG_MATCH
            else:
                bits |= R_NON_PERSONALIZED
            if w["prior"] != 0:
                bits |= R_PRIOR
            if i in self.pin_slot_of:
                bits |= R_EDITORIAL
            if self.flags[i] & FEATURED:
                bits |= R_FEATURED
            if slot in self.diversity_slots:
                bits |= R_DIVERSITY
            if slot in self.relaxed_slots:
                bits |= R_SCATTER_RELAXED
            if slot in self.fill_slots:
                bits |= R_SCORE_FILL
            price = req.offered_price[i] if has_price(req, i) else math.nan
            if action in ("clamp", "flag") and violates_price_parity(req, i):
                if action == "clamp":
                    bits |= R_PRICE_CLAMPED
                    price = req.reference_price[i]
                else:
                    bits |= R_PRICE_FLAGGED
            reasons.append(bits)
            prices.append(price)
        scores = [self.scores[i] for i in indices]
        return Outcome(STATUS_OK, indices, scores, reasons, prices, drop_codes, counts, list(self.pin_status))
