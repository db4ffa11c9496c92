"""Seeded synthetic requests: candidates, users and policies that look like a real feed.

The demo, the tests and the benchmarks all need requests that exercise every rule of the
pipeline at realistic rates, and they need the *same* requests every time so that a result
or a timing can be compared across runs and machines. Everything here is drawn from numpy
``Generator`` objects (PCG64) seeded from the caller's ``seed``; nothing reads global random
state, so a given seed always gives identical arrays.

How the data hangs together (so that ranking it is meaningful, not noise):

- The embedding space has ``n_clusters`` topic centres. Items sit near one centre; a user
  sits near one centre too. The centres depend only on ``(seed, d, n_clusters, n_tags)``, so
  ``make_user`` with the same ``d`` and ``seed`` as ``make_candidates`` lands on a cluster
  that really holds items, and personal relevance has a real winner.
- Each cluster has a "home" category that about half its items carry, so a user's best
  items crowd into a few categories and the scatter windows have work to do.
- Tags follow a Zipf law whose popular end is rotated per cluster: items of a cluster share
  its popular tags, and a user's interest tags are drawn the same way, so tag matches occur.
- Flags, age limits, fraud risk and prices are drawn at the rates a moderation team sees,
  so every drop rule fires on a few percent of a realistic request.

Draws are split into independent streams (the embedding space, the items, the user) with
``SeedSequence`` spawn keys, so adding a user option never changes the candidates of a seed.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np

from .data import Candidates, User
from .enums import Flag
from .policy import Policy

__all__ = [
    "DEFAULT_FLAG_RATES",
    "FORBIDDEN_TAGS",
    "SCENARIOS",
    "SCENARIO_SEED",
    "USER_KINDS",
    "Scenario",
    "make_candidates",
    "make_policy",
    "make_request",
    "make_user",
]

#: Per-item rates of the content flags. ``synthetic_labeled`` is the share of SYNTHETIC
#: items that carry the label (the rest are dropped as UNLABELED_SYNTHETIC).
DEFAULT_FLAG_RATES: Mapping[str, float] = {
    "blocked": 0.01,
    "harmful": 0.03,
    "synthetic": 0.05,
    "synthetic_labeled": 0.70,
    "featured": 0.05,
}

#: The user kinds ``make_user`` knows.
USER_KINDS = ("personalized", "opted_out", "deleted_tags", "minor", "elderly")

#: Tags the "all masks on" policy forbids as interests (policy-wide, Art. 10).
FORBIDDEN_TAGS = (1, 2)

# Independent random streams of one seed (SeedSequence spawn keys).
_STREAM_SPACE = 0
_STREAM_ITEMS = 1
_STREAM_USER = 2

# Within-cluster noise as a fraction of a unit centre: items keep a cosine of about 0.8 to
# their centre and about 0.6 to each other, far above the near-zero cosine across clusters.
_ITEM_NOISE = 0.8
_USER_NOISE = 0.4

# Share of items whose category is their cluster's home category.
_HOME_CATEGORY_SHARE = 0.5

# Number of tags per item: P(0), ..., P(5).
_TAG_COUNT_P = (0.08, 0.17, 0.25, 0.25, 0.15, 0.10)

# min_age values and how often each occurs (most content is for everyone).
_MIN_AGES = (0, 12, 16, 18)
_MIN_AGE_P = (0.85, 0.05, 0.05, 0.05)

# Fraud risk: most items are low-risk (Beta(1.2, 15), mean ~0.07); a small risky group
# (Beta(4, 2), mean ~0.67) is where the thresholds bite.
_RISKY_SHARE = 0.03

_PRICED_SHARE = 0.60
# Priced items whose offered price differs from the reference by a small, in-tolerance
# amount (within 1%): they exercise the tolerance arithmetic without violating parity.
_PRICE_JITTER_SHARE = 0.10
_DUPLICATE_RATE = 0.002

# Policy values of "all masks on" (see make_policy).
_ALL_MASKS: Mapping[str, Any] = {
    "tags": {"forbidden": list(FORBIDDEN_TAGS), "deletion": "suppress"},
    "fraud": {"max_risk": 0.8, "elderly_max_risk": 0.5},
    "price": {"action": "drop", "abs_tol": 0.01, "rel_tol": 0.02},
    "key_slots": {"count": 3, "featured_min": 1},
    "scatter": {
        "category_window": 5,
        "category_max": 2,
        "author_window": 10,
        "author_max": 1,
        "category_share": 0.3,
    },
}


def _rng(seed: int, stream: int) -> np.random.Generator:
    """The PCG64 generator of one stream of ``seed``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(int(seed), spawn_key=(stream,))))


def _zipf_p(m: int, exponent: float) -> np.ndarray:
    """Probabilities of ranks 0..m-1 under a Zipf law (p_r proportional to 1 / (r + 1)^s)."""
    p = 1.0 / np.arange(1, m + 1, dtype=np.float64) ** exponent
    return p / p.sum()


def _space(seed: int, d: int, n_clusters: int, n_tags: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The shared embedding space of a seed: what items and users of that seed agree on.

    Returns the unit cluster centres (float64 [n_clusters, d]), each cluster's share of the
    items (mildly skewed: some topics are bigger) and each cluster's rotation of the tag
    vocabulary (the tag id that is most popular within it).
    """
    if d < 1:
        raise ValueError(f"d must be >= 1, got {d}")
    if n_clusters < 1:
        raise ValueError(f"n_clusters must be >= 1, got {n_clusters}")
    if n_tags < 1:
        raise ValueError(f"n_tags must be >= 1, got {n_tags}")
    rng = _rng(seed, _STREAM_SPACE)
    centres = rng.standard_normal((n_clusters, d))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    cluster_p = _zipf_p(n_clusters, 0.5)[rng.permutation(n_clusters)]
    tag_shift = rng.integers(0, n_tags, size=n_clusters)
    return centres, cluster_p, tag_shift


def _item_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unique, unordered int64 ids (as a catalogue would have), then a few duplicates.

    About 0.2% of rows (at least one once n >= 50) repeat the id of an earlier row: feeds
    merge candidate sources and the same item arrives twice; the core must drop the copy.
    """
    ids = rng.choice(10 * n, size=n, replace=False).astype(np.int64) + 1_000_000
    n_dup = int(round(_DUPLICATE_RATE * n))
    if n >= 50:
        n_dup = max(n_dup, 1)
    if n_dup:
        later = rng.choice(np.arange(1, n), size=n_dup, replace=False)
        earlier = (rng.random(n_dup) * later).astype(np.int64)  # uniform in [0, later)
        ids[later] = ids[earlier]
    return ids


def _tags(
    rng: np.random.Generator, cluster: np.ndarray, tag_shift: np.ndarray, n_tags: int
) -> Tuple[np.ndarray, np.ndarray]:
    """0-5 distinct tags per item as CSR (indptr int64 [n+1], ids int32), cluster-flavoured."""
    n = len(cluster)
    counts = rng.choice(len(_TAG_COUNT_P), size=n, p=_TAG_COUNT_P)
    row = np.repeat(np.arange(n), counts)
    rank = rng.choice(n_tags, size=len(row), p=_zipf_p(n_tags, 1.0))
    tag = (rank + tag_shift[cluster[row]]) % n_tags
    # Drop repeats within an item: np.unique of the combined key (row, tag) sorts by row,
    # then tag, and keeps one of each pair.
    key = np.unique(row.astype(np.int64) * n_tags + tag)
    row, tag = key // n_tags, key % n_tags
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(row, minlength=n), out=indptr[1:])
    return indptr, tag.astype(np.int32)


def _flags(rng: np.random.Generator, n: int, rates: Mapping[str, float]) -> np.ndarray:
    """Independent flag bits at the given rates; the label only ever on SYNTHETIC items."""
    flags = np.zeros(n, dtype=np.uint32)
    flags[rng.random(n) < rates["blocked"]] |= np.uint32(Flag.BLOCKED)
    flags[rng.random(n) < rates["harmful"]] |= np.uint32(Flag.HARMFUL)
    synthetic = rng.random(n) < rates["synthetic"]
    labelled = synthetic & (rng.random(n) < rates["synthetic_labeled"])
    flags[synthetic] |= np.uint32(Flag.SYNTHETIC)
    flags[labelled] |= np.uint32(Flag.SYNTHETIC_LABELED)
    flags[rng.random(n) < rates["featured"]] |= np.uint32(Flag.FEATURED)
    return flags


def _prices(rng: np.random.Generator, n: int, off_rate: float) -> Tuple[np.ndarray, np.ndarray]:
    """Offered and reference prices (float64, NaN = no price).

    ~60% of items have a price, log-normal around 20, ending in .99. Of the priced
    items, a share ``off_rate`` is offered more than 5% away from the reference (6-50% up
    or down: the disparity Art. 21 forbids) and ~10% within 1% (inside the tolerance).
    """
    reference = np.full(n, np.nan)
    offered = np.full(n, np.nan)
    priced = rng.random(n) < _PRICED_SHARE
    base = np.floor(np.exp(rng.normal(math.log(20.0), 1.0, size=n))) + 0.99  # 19.99-style
    reference[priced] = base[priced]
    factor = np.ones(n)
    u = rng.random(n)
    off = priced & (u < off_rate)
    jitter = priced & (u >= off_rate) & (u < off_rate + _PRICE_JITTER_SHARE)
    magnitude = rng.uniform(0.06, 0.50, size=n)
    direction = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    factor[off] = 1.0 + direction[off] * magnitude[off]
    factor[jitter] = 1.0 + rng.uniform(-0.01, 0.01, size=n)[jitter]
    offered[priced] = np.round(reference[priced] * factor[priced], 2)
    return offered, reference


def make_candidates(
    n: int,
    d: int = 64,
    seed: int = 0,
    *,
    n_clusters: int = 16,
    n_categories: int = 40,
    n_authors: Optional[int] = None,
    n_tags: int = 500,
    flag_rates: Optional[Mapping[str, float]] = None,
    price_off_rate: float = 0.03,
) -> Candidates:
    """``n`` candidate items of a realistic feed request, deterministic in ``seed``.

    - ``embedding``: float32 [n, d], a cluster centre plus noise (norms near 1.3).
    - ``prior``: float32 in [0, 1], skewed low (Beta(1.5, 4)): most items are unremarkable.
    - ``category``: int32, Zipf-skewed over ``n_categories``; half the items of a cluster
      carry the cluster's home category.
    - ``author``: int32, Zipf-skewed (s = 0.8) over ``n_authors`` (default ``max(10, n // 5)``),
      enough distinct authors that an author window of 10 with at most 1 each is feasible.
    - tags: 0-5 distinct tags per item from a per-cluster Zipf vocabulary of ``n_tags`` (CSR).
    - ``flags``: at ``flag_rates`` (keys of ``DEFAULT_FLAG_RATES``; missing keys keep the default).
    - ``min_age``: uint8, 0 for 85% of items, else 12, 16 or 18.
    - ``fraud_risk``: float32 in [0, 1], mostly low, with a small risky group.
    - prices: see ``_prices``; ``price_off_rate`` is the share of *priced* items off parity.
    - ``item_id``: int64, unique except ~0.2% duplicates of an earlier row.

    ``n`` may be 0 or 1.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if n_categories < 1:
        raise ValueError(f"n_categories must be >= 1, got {n_categories}")
    rates = dict(DEFAULT_FLAG_RATES)
    if flag_rates:
        unknown = set(flag_rates) - set(DEFAULT_FLAG_RATES)
        if unknown:
            raise ValueError(f"flag_rates: unknown keys {sorted(unknown)}; known: {sorted(DEFAULT_FLAG_RATES)}")
        rates.update(flag_rates)
    if n_authors is None:
        n_authors = max(10, n // 5)
    if n_authors < 1:
        raise ValueError(f"n_authors must be >= 1, got {n_authors}")

    centres, cluster_p, tag_shift = _space(seed, d, n_clusters, n_tags)
    rng = _rng(seed, _STREAM_ITEMS)

    cluster = rng.choice(n_clusters, size=n, p=cluster_p)
    # Drawn and summed in float32 directly: the normal draws dominate the cost.
    embedding = rng.standard_normal((n, d), dtype=np.float32)
    embedding *= np.float32(_ITEM_NOISE / math.sqrt(d))
    embedding += centres.astype(np.float32)[cluster]

    prior = rng.beta(1.5, 4.0, size=n).astype(np.float32)

    category_p = _zipf_p(n_categories, 1.0)
    home = rng.choice(n_categories, size=n_clusters, p=category_p)
    category = np.where(
        rng.random(n) < _HOME_CATEGORY_SHARE,
        home[cluster],
        rng.choice(n_categories, size=n, p=category_p),
    ).astype(np.int32)

    author = rng.choice(n_authors, size=n, p=_zipf_p(n_authors, 0.8)).astype(np.int32)

    tag_indptr, tag_ids = _tags(rng, cluster, tag_shift, n_tags)
    flags = _flags(rng, n, rates)
    min_age = rng.choice(np.array(_MIN_AGES, dtype=np.uint8), size=n, p=_MIN_AGE_P)

    risky = rng.random(n) < _RISKY_SHARE
    fraud_risk = np.where(risky, rng.beta(4.0, 2.0, size=n), rng.beta(1.2, 15.0, size=n))
    fraud_risk = np.clip(fraud_risk, 0.0, 1.0).astype(np.float32)

    offered, reference = _prices(rng, n, price_off_rate)
    item_id = _item_ids(rng, n)

    return Candidates(
        item_id=item_id,
        embedding=embedding,
        prior=prior,
        category=category,
        author=author,
        tags=(tag_indptr, tag_ids),
        flags=flags,
        min_age=min_age,
        fraud_risk=fraud_risk,
        offered_price=offered,
        reference_price=reference,
    )


def make_user(
    d: int = 64,
    seed: int = 0,
    *,
    kind: str = "personalized",
    candidates: Optional[Candidates] = None,
    n_interest_tags: int = 12,
    n_tags: int = 500,
    n_clusters: int = 16,
    n_seen: int = 5,
    local_minute: Optional[int] = None,
    usage_minutes_today: Optional[int] = None,
) -> User:
    """A user of the given ``kind``, living in the embedding space of ``seed``.

    The embedding sits near one of the cluster centres of ``make_candidates(.., d, seed)``
    (pass the same ``n_clusters`` and ``n_tags``), and the interest tags come from that
    cluster's vocabulary, so the user has real matches among those candidates.

    Every kind draws the same random numbers, so the users of one seed differ only in what
    their kind changes: the demo can show the *same* person opted out, deleting tags, etc.

    Kinds: ``personalized``; ``opted_out`` (personalized=False; embedding and tags are still
    there, and must be ignored); ``deleted_tags`` (a quarter of the interest tags deleted);
    ``minor`` (minor_mode, age 14, ``local_minute`` default 21:00, ``usage_minutes_today``
    default 30, both within the default limits); ``elderly`` (elderly, age 72).

    With ``candidates``, ``n_seen`` of their item ids are marked seen: half of them among
    the user's 20 most relevant items (what the previous session most likely showed), the
    rest anywhere.
    """
    if kind not in USER_KINDS:
        raise ValueError(f"kind must be one of {USER_KINDS}, got {kind!r}")
    if candidates is not None and candidates.d != d:
        raise ValueError(f"candidates have d={candidates.d} but the user is asked for d={d}; pass the same d")
    n_interest_tags = min(n_interest_tags, n_tags)
    centres, cluster_p, tag_shift = _space(seed, d, n_clusters, n_tags)
    rng = _rng(seed, _STREAM_USER)

    # The user's home cluster is drawn like an item's: big topics have more users.
    home = int(rng.choice(n_clusters, p=cluster_p))
    embedding = (centres[home] + rng.standard_normal(d) * (_USER_NOISE / math.sqrt(d))).astype(np.float32)

    rank = rng.choice(n_tags, size=n_interest_tags, replace=False, p=_zipf_p(n_tags, 1.0))
    tag_ids = ((rank + tag_shift[home]) % n_tags).astype(np.int32)
    weights = np.round(rng.uniform(0.1, 1.0, size=n_interest_tags), 2)
    n_deleted = max(1, n_interest_tags // 4) if n_interest_tags else 0
    deleted = rng.choice(tag_ids, size=n_deleted, replace=False) if n_deleted else tag_ids[:0]

    seen: List[int] = []
    if candidates is not None and candidates.n and n_seen > 0:
        ids = np.asarray(candidates.item_id)
        relevance = np.asarray(candidates.embedding, dtype=np.float64) @ embedding.astype(np.float64)
        top = np.argsort(-relevance, kind="stable")[:20]
        n_top = min(len(top), (n_seen + 1) // 2)
        picked = list(rng.choice(top, size=n_top, replace=False))
        rest = np.setdiff1d(np.arange(len(ids)), picked)
        n_rest = min(len(rest), n_seen - n_top)
        picked += list(rng.choice(rest, size=n_rest, replace=False))
        seen = [int(ids[i]) for i in picked]

    options: Dict[str, Any] = {
        "embedding": embedding,
        "tags": (tag_ids, weights),
        "personalized": True,
        "deleted_tags": [],
        "minor_mode": False,
        "age": None,
        "elderly": False,
        "local_minute": local_minute,
        "usage_minutes_today": usage_minutes_today,
        "seen": seen,
    }
    if kind == "opted_out":
        options["personalized"] = False
    elif kind == "deleted_tags":
        options["deleted_tags"] = [int(t) for t in deleted]
    elif kind == "minor":
        options.update(minor_mode=True, age=14)
        options["local_minute"] = 21 * 60 if local_minute is None else local_minute
        options["usage_minutes_today"] = 30 if usage_minutes_today is None else usage_minutes_today
    elif kind == "elderly":
        options.update(elderly=True, age=72)
    return User(**options)


def make_policy(
    method: str = "none",
    *,
    all_masks: bool = True,
    k: int = 50,
    weights: Tuple[float, float, float] = (1.0, 0.3, 0.5),
    **overrides: Any,
) -> Policy:
    """A policy for synthetic requests.

    ``all_masks=True`` switches every rule on at production-like settings: fraud max_risk
    0.8 (elderly 0.5); price parity ``drop`` with abs_tol 0.01 and rel_tol 0.02; deleted tags
    ``suppress``; forbidden tags ``FORBIDDEN_TAGS``; 3 key slots with at least 1 featured;
    category window 5 (at most 2), author window 10 (at most 1), category share 0.3.
    ``all_masks=False`` leaves every rule at the ``Policy`` defaults.

    In both cases ``k``, the diversity ``method`` (mmr lambda 0.7, dpp alpha 1.0) and the
    score ``weights`` (relevance, tag, prior) are set: with the default prior weight of 0 an
    opted-out user would get all-zero scores, which is valid but not a realistic feed.

    ``overrides`` are dotted keys passed to ``Policy.replace``, e.g.
    ``make_policy("mmr", **{"scatter.category_window": 0})``.
    """
    spec: Dict[str, Any] = {
        "k": k,
        "weights": {"relevance": weights[0], "tag": weights[1], "prior": weights[2]},
        "diversity": {"method": method, "lambda": 0.7, "alpha": 1.0},
    }
    if all_masks:
        for section, values in _ALL_MASKS.items():
            spec[section] = dict(values)
    policy = Policy.from_dict(spec)
    if overrides:
        policy = policy.replace(**overrides)
    return policy


def make_request(
    n: int,
    d: int = 64,
    seed: int = 0,
    *,
    kind: str = "personalized",
    method: str = "none",
    all_masks: bool = True,
    overrides: Optional[Mapping[str, Any]] = None,
) -> Tuple[Candidates, User, Policy]:
    """One complete request: ``n`` candidates, a user of ``kind`` who matches them, a policy."""
    candidates = make_candidates(n, d, seed)
    user = make_user(d, seed, kind=kind, candidates=candidates)
    policy = make_policy(method, all_masks=all_masks, **dict(overrides or {}))
    return candidates, user, policy


#: The seed of every benchmark scenario. One seed for all means that scenarios of the same
#: n and d (e.g. feed-1k-none, -mmr, -dpp) rank the very same requests, so their timings
#: differ only by the method.
SCENARIO_SEED = 20240


@dataclasses.dataclass(frozen=True)
class Scenario:
    """A named, seed-fixed request shape for the benchmark.

    ``overrides`` is a tuple of (dotted policy key, value) pairs, a tuple so that the
    scenario stays hashable and immutable.
    """

    name: str
    n: int
    d: int
    kind: str
    method: str
    overrides: Tuple[Tuple[str, Any], ...] = ()
    seed: int = SCENARIO_SEED

    def seeds(self, count: int) -> List[int]:
        """``count`` distinct request seeds derived from the scenario seed."""
        children = np.random.SeedSequence(self.seed).spawn(count)
        return [int(child.generate_state(1)[0]) for child in children]

    def build(self, count: int = 1) -> List[Tuple[Candidates, User]]:
        """``count`` distinct (candidates, user) requests of this shape."""
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        requests = []
        for seed in self.seeds(count):
            candidates = make_candidates(self.n, self.d, seed)
            user = make_user(self.d, seed, kind=self.kind, candidates=candidates)
            requests.append((candidates, user))
        return requests

    def policy(self) -> Policy:
        """The scenario's policy: all masks on, k 50, its method, its overrides."""
        return make_policy(self.method, **dict(self.overrides))


def _scenarios() -> Dict[str, Scenario]:
    out: Dict[str, Scenario] = {}

    def add(name: str, n: int, d: int, kind: str, method: str, overrides: Tuple[Tuple[str, Any], ...] = ()) -> None:
        out[name] = Scenario(name=name, n=n, d=d, kind=kind, method=method, overrides=overrides)

    for label, n in (("200", 200), ("1k", 1000), ("5k", 5000)):
        for method in ("none", "mmr", "dpp"):
            add(f"feed-{label}-{method}", n, 64, "personalized", method)
    add("feed-1k-d32-mmr", 1000, 32, "personalized", "mmr")
    add("feed-1k-d128-mmr", 1000, 128, "personalized", "mmr")
    add("feed-1k-minor-mmr", 1000, 64, "minor", "mmr")
    add("feed-1k-optout-mmr", 1000, 64, "opted_out", "mmr")
    # Only the category window does selection work: it isolates the cost of the scatter check.
    add(
        "feed-1k-window",
        1000,
        64,
        "personalized",
        "none",
        (
            ("scatter.category_window", 5),
            ("scatter.category_max", 2),
            ("scatter.author_window", 0),
            ("scatter.author_max", 0),
            ("scatter.category_share", 1.0),
        ),
    )
    return out


#: Named benchmark scenarios (see ``Scenario``).
SCENARIOS: Dict[str, Scenario] = _scenarios()
