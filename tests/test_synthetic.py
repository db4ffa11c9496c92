"""The synthetic request generator: deterministic, realistic, fast, and every scenario builds.

Benchmarks and equivalence tests are only comparable across runs if the same seed gives the
same arrays, and they only exercise the rules if the rates are what the docstrings claim.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import ranker
from ranker import synthetic
from ranker.enums import Flag, Reason, Status

CANDIDATE_FIELDS = (
    "item_id", "embedding", "prior", "category", "author", "tag_indptr", "tag_ids", "flags",
    "min_age", "fraud_risk", "offered_price", "reference_price",
)
DTYPES = {
    "item_id": np.int64, "embedding": np.float32, "prior": np.float32, "category": np.int32,
    "author": np.int32, "tag_indptr": np.int64, "tag_ids": np.int32, "flags": np.uint32,
    "min_age": np.uint8, "fraud_risk": np.float32, "offered_price": np.float64,
    "reference_price": np.float64,
}
USER_FIELDS = ("embedding", "tag_ids", "tag_weights", "deleted_tags", "seen")


def assert_same_candidates(a, b):
    for field in CANDIDATE_FIELDS:
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)


def assert_same_user(a, b):
    for field in USER_FIELDS:
        np.testing.assert_array_equal(np.asarray(getattr(a, field)), np.asarray(getattr(b, field)), err_msg=field)
    for field in ("personalized", "minor_mode", "age", "elderly", "local_minute", "usage_minutes_today"):
        assert getattr(a, field) == getattr(b, field), field


# --- determinism -------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 7, 300])
def test_same_seed_gives_identical_requests(n):
    a = synthetic.make_request(n, 16, seed=5, kind="deleted_tags", method="mmr")
    b = synthetic.make_request(n, 16, seed=5, kind="deleted_tags", method="mmr")
    assert_same_candidates(a[0], b[0])
    assert_same_user(a[1], b[1])
    assert a[2].hash == b[2].hash


def test_different_seeds_differ():
    a = synthetic.make_candidates(200, 16, seed=1)
    b = synthetic.make_candidates(200, 16, seed=2)
    assert not np.array_equal(a.embedding, b.embedding)
    assert not np.array_equal(a.item_id, b.item_id)
    assert not np.array_equal(a.category, b.category)
    ua = synthetic.make_user(16, seed=1)
    ub = synthetic.make_user(16, seed=2)
    assert not np.array_equal(ua.embedding, ub.embedding)


def test_user_kinds_are_the_same_person():
    """Every kind draws the same numbers: the demo compares one person across settings."""
    cands = synthetic.make_candidates(300, 32, seed=4)
    users = {kind: synthetic.make_user(32, 4, kind=kind, candidates=cands) for kind in synthetic.USER_KINDS}
    base = users["personalized"]
    for user in users.values():
        np.testing.assert_array_equal(user.embedding, base.embedding)
        np.testing.assert_array_equal(user.tag_ids, base.tag_ids)
        np.testing.assert_array_equal(user.seen, base.seen)


def test_user_options_do_not_change_the_candidates():
    """Items and users draw from separate streams of the seed."""
    a = synthetic.make_candidates(100, 8, seed=9)
    synthetic.make_user(8, 9, candidates=a, n_interest_tags=3)
    b = synthetic.make_candidates(100, 8, seed=9)
    assert_same_candidates(a, b)


# --- shapes, dtypes, edge sizes ---------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 2, 7, 97])
@pytest.mark.parametrize("d", [1, 3, 64])
def test_shapes_and_dtypes(n, d):
    cands = synthetic.make_candidates(n, d, seed=n + d)
    assert cands.n == n and cands.d == d
    assert cands.embedding.shape == (n, d)
    assert cands.tag_indptr.shape == (n + 1,)
    for field, dtype in DTYPES.items():
        value = getattr(cands, field)
        assert value.dtype == dtype, field
        assert value.flags.c_contiguous, field
        if field not in ("embedding", "tag_indptr", "tag_ids"):
            assert value.shape == (n,), field
    user = synthetic.make_user(d, seed=n + d, candidates=cands)
    assert user.embedding.shape == (d,) and user.embedding.dtype == np.float32
    assert len(user.seen) == min(n, 5)
    assert set(np.asarray(user.seen).tolist()) <= set(cands.item_id.tolist())


def test_values_are_valid_inputs():
    cands = synthetic.make_candidates(2000, 32, seed=11, n_tags=300)
    assert np.isfinite(cands.embedding).all()
    assert ((cands.prior >= 0) & (cands.prior <= 1)).all()
    assert ((cands.fraud_risk >= 0) & (cands.fraud_risk <= 1)).all()
    assert (cands.flags & ~np.uint32(ranker.enums.KNOWN_FLAGS) == 0).all()
    labelled = (cands.flags & Flag.SYNTHETIC_LABELED) != 0
    assert ((cands.flags[labelled] & Flag.SYNTHETIC) != 0).all(), "a label only on synthetic items"
    assert set(np.unique(cands.min_age).tolist()) <= {0, 12, 16, 18}
    priced = ~np.isnan(cands.reference_price)
    np.testing.assert_array_equal(priced, ~np.isnan(cands.offered_price))
    assert (cands.reference_price[priced] > 0).all() and (cands.offered_price[priced] > 0).all()
    # Tags: a valid CSR, 0-5 distinct ids per item, inside the vocabulary.
    indptr, ids = cands.tag_indptr, cands.tag_ids
    assert indptr[0] == 0 and indptr[-1] == len(ids) and (np.diff(indptr) >= 0).all()
    assert np.diff(indptr).max() <= 5
    assert ids.min() >= 0 and ids.max() < 300
    for i in range(cands.n):
        row = cands.tags_of(i)
        assert len(row) == len(set(row))


# --- rates ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def large():
    return synthetic.make_candidates(50_000, 16, seed=123)


def share(mask):
    return float(np.mean(np.asarray(mask) != 0))


def test_flag_rates(large):
    flags = large.flags
    assert share(flags & Flag.BLOCKED) == pytest.approx(0.01, abs=0.003)
    assert share(flags & Flag.HARMFUL) == pytest.approx(0.03, abs=0.005)
    synthetic_items = (flags & Flag.SYNTHETIC) != 0
    assert share(synthetic_items) == pytest.approx(0.05, abs=0.005)
    assert share((flags[synthetic_items] & Flag.SYNTHETIC_LABELED) != 0) == pytest.approx(0.70, abs=0.03)
    assert share(flags & Flag.FEATURED) == pytest.approx(0.05, abs=0.005)


def test_flag_rates_can_be_overridden():
    cands = synthetic.make_candidates(5000, 4, seed=1, flag_rates={"blocked": 0.5})
    assert share(cands.flags & Flag.BLOCKED) == pytest.approx(0.5, abs=0.03)
    assert share(cands.flags & Flag.HARMFUL) == pytest.approx(0.03, abs=0.01)
    with pytest.raises(ValueError, match="flag_rates"):
        synthetic.make_candidates(10, 4, flag_rates={"blokced": 0.5})


def test_other_rates(large):
    assert share(large.min_age == 0) == pytest.approx(0.85, abs=0.01)
    assert np.median(large.fraud_risk) < 0.15
    assert share(large.fraud_risk > 0.8) == pytest.approx(0.03 * 0.26, abs=0.003)
    priced = ~np.isnan(large.reference_price)
    assert share(priced) == pytest.approx(0.60, abs=0.01)
    o, r = large.offered_price[priced], large.reference_price[priced]
    assert share(np.abs(o - r) > 0.05 * r) == pytest.approx(0.03, abs=0.005)
    # Whatever is off parity is far off: the "all masks" tolerance sees the same items.
    np.testing.assert_array_equal(np.abs(o - r) > 0.05 * r, np.abs(o - r) > 0.01 + 0.02 * r)
    duplicates = large.n - len(np.unique(large.item_id))
    assert duplicates == pytest.approx(0.002 * large.n, rel=0.2)
    assert 1.5 < np.diff(large.tag_indptr).mean() < 3.5
    assert large.prior.mean() < 0.4


def test_price_off_rate_option():
    cands = synthetic.make_candidates(20_000, 4, seed=3, price_off_rate=0.2)
    priced = ~np.isnan(cands.reference_price)
    o, r = cands.offered_price[priced], cands.reference_price[priced]
    assert share(np.abs(o - r) > 0.05 * r) == pytest.approx(0.2, abs=0.02)


def test_skews(large):
    """Categories and authors are skewed; there are many authors and the first copy of a duplicate comes first."""
    categories = np.sort(np.bincount(large.category))[::-1] / large.n
    assert categories[0] > 5 * categories[len(categories) // 2]
    authors = np.bincount(large.author)
    assert np.count_nonzero(authors) > 1000
    assert authors.max() / large.n < 0.1


def test_duplicates_repeat_an_earlier_row():
    cands = synthetic.make_candidates(1000, 4, seed=8)
    counts = np.unique(cands.item_id, return_counts=True)[1]
    assert counts.max() >= 2
    assert 1 <= (counts - 1).sum() <= 5


# --- the user ---------------------------------------------------------------------------


def test_user_lives_near_a_cluster():
    cands = synthetic.make_candidates(2000, 64, seed=21)
    user = synthetic.make_user(64, 21, candidates=cands)
    relevance = cands.embedding @ user.embedding
    top = np.sort(relevance)[-50:]
    assert top.mean() > 0.8
    assert top.mean() > relevance.mean() + 0.5


def test_user_tags_match_items():
    cands = synthetic.make_candidates(2000, 16, seed=22)
    user = synthetic.make_user(16, 22, candidates=cands)
    interests = set(user.tag_ids.tolist())
    matched = np.array([bool(interests & set(cands.tags_of(i))) for i in range(cands.n)])
    closest = np.argsort(-(cands.embedding @ user.embedding))[:100]
    # The user's own cluster shares its tags: matches concentrate among the relevant items.
    assert matched[closest].mean() > 0.25
    assert matched[closest].mean() > 2 * matched.mean()


def test_user_kinds():
    cands = synthetic.make_candidates(500, 16, seed=2)
    personalized = synthetic.make_user(16, 2, candidates=cands)
    assert personalized.personalized and not personalized.minor_mode and not personalized.elderly
    assert len(personalized.deleted_tags) == 0 and len(personalized.tag_ids) == 12

    opted_out = synthetic.make_user(16, 2, kind="opted_out")
    assert not opted_out.personalized

    deleting = synthetic.make_user(16, 2, kind="deleted_tags")
    deleted = set(np.asarray(deleting.deleted_tags).tolist())
    assert deleted and deleted < set(deleting.tag_ids.tolist())

    minor = synthetic.make_user(16, 2, kind="minor")
    assert minor.minor_mode and minor.age == 14
    assert minor.local_minute == 21 * 60 and minor.usage_minutes_today == 30
    late = synthetic.make_user(16, 2, kind="minor", local_minute=23 * 60, usage_minutes_today=5)
    assert late.local_minute == 23 * 60 and late.usage_minutes_today == 5

    elderly = synthetic.make_user(16, 2, kind="elderly")
    assert elderly.elderly and not elderly.minor_mode

    with pytest.raises(ValueError, match="kind"):
        synthetic.make_user(16, 2, kind="teenager")
    with pytest.raises(ValueError, match="d=16"):
        synthetic.make_user(8, 2, candidates=cands)


def test_seen_includes_relevant_items():
    cands = synthetic.make_candidates(1000, 32, seed=6)
    user = synthetic.make_user(32, 6, candidates=cands, n_seen=6)
    assert len(user.seen) == 6
    relevance = cands.embedding @ user.embedding
    top_ids = set(cands.item_id[np.argsort(-relevance)[:20]].tolist())
    assert len(set(np.asarray(user.seen).tolist()) & top_ids) >= 3


# --- the policy -------------------------------------------------------------------------


def test_all_masks_policy():
    spec = synthetic.make_policy("mmr").to_dict()
    assert spec["k"] == 50
    assert spec["fraud"] == {"max_risk": 0.8, "elderly_max_risk": 0.5}
    assert spec["price"] == {"action": "drop", "abs_tol": 0.01, "rel_tol": 0.02}
    assert spec["tags"]["deletion"] == "suppress" and len(spec["tags"]["forbidden"]) >= 2
    assert spec["key_slots"] == {"count": 3, "featured_min": 1}
    assert spec["scatter"] == {"category_window": 5, "category_max": 2, "author_window": 10,
                               "author_max": 1, "category_share": 0.3}
    assert spec["diversity"]["method"] == "mmr" and spec["diversity"]["lambda"] == 0.7
    assert synthetic.make_policy("dpp").to_dict()["diversity"]["alpha"] == 1.0


def test_policy_without_masks_keeps_the_defaults():
    spec = synthetic.make_policy("dpp", all_masks=False).to_dict()
    defaults = ranker.Policy().to_dict()
    for section in ("tags", "minor", "fraud", "price", "key_slots", "pins", "scatter"):
        assert spec[section] == defaults[section], section
    assert spec["diversity"]["method"] == "dpp"


def test_policy_overrides():
    policy = synthetic.make_policy("none", k=20, **{"scatter.category_window": 0, "price.action": "clamp"})
    spec = policy.to_dict()
    assert policy.k == 20
    assert spec["scatter"]["category_window"] == 0 and spec["price"]["action"] == "clamp"
    assert spec["scatter"]["author_window"] == 10


def test_make_request():
    cands, user, policy = synthetic.make_request(100, 8, seed=3, kind="minor", method="dpp")
    assert cands.n == 100 and cands.d == 8 and user.d == 8 and user.minor_mode
    assert policy.method == "dpp"


# --- scenarios --------------------------------------------------------------------------


def test_scenario_names():
    expected = {f"feed-{size}-{method}" for size in ("200", "1k", "5k") for method in ("none", "mmr", "dpp")}
    expected |= {"feed-1k-d32-mmr", "feed-1k-d128-mmr", "feed-1k-minor-mmr", "feed-1k-optout-mmr", "feed-1k-window"}
    assert set(synthetic.SCENARIOS) == expected
    for name, scenario in synthetic.SCENARIOS.items():
        assert scenario.name == name


@pytest.mark.parametrize("name", sorted(synthetic.SCENARIOS))
def test_every_scenario_builds(name):
    scenario = synthetic.SCENARIOS[name]
    requests = scenario.build(count=2)
    assert len(requests) == 2
    (c0, u0), (c1, u1) = requests
    for cands, user in requests:
        assert cands.n == scenario.n and cands.d == scenario.d and user.d == scenario.d
    assert not np.array_equal(c0.embedding, c1.embedding), "the requests of a scenario are distinct"
    again = scenario.build(count=2)
    assert_same_candidates(again[0][0], c0)
    assert_same_user(again[1][1], u1)
    policy = scenario.policy()
    assert policy.k == 50 and policy.method == scenario.method
    assert hash(scenario) == hash(synthetic.SCENARIOS[name])


def test_scenario_details():
    s = synthetic.SCENARIOS
    assert s["feed-1k-d32-mmr"].d == 32 and s["feed-1k-d128-mmr"].d == 128
    assert s["feed-1k-minor-mmr"].build()[0][1].minor_mode
    assert not s["feed-1k-optout-mmr"].build()[0][1].personalized
    window = s["feed-1k-window"].policy().to_dict()
    assert window["diversity"]["method"] == "none"
    assert window["scatter"] == {"category_window": 5, "category_max": 2, "author_window": 0,
                                 "author_max": 0, "category_share": 1.0}
    assert window["fraud"]["max_risk"] == 0.8 and window["price"]["action"] == "drop"
    # Same n and d: the methods rank the same requests, so timings compare the methods only.
    assert_same_candidates(s["feed-1k-none"].build()[0][0], s["feed-1k-dpp"].build()[0][0])
    assert s["feed-200-mmr"].build(count=0) == []


def test_generation_is_fast():
    synthetic.make_request(5000, 64, seed=0)
    times = []
    for seed in range(5):
        start = time.perf_counter()
        cands = synthetic.make_candidates(5000, 64, seed)
        synthetic.make_user(64, seed, candidates=cands)
        times.append(time.perf_counter() - start)
    # Milliseconds in practice (~10-15 ms); the bound is loose so a busy CI machine passes.
    assert min(times) < 0.25


# --- the generated requests are feasible under "all masks on" --------------------------


@pytest.mark.parametrize("method", ["none", "mmr", "dpp"])
@pytest.mark.parametrize("kind", ["personalized", "minor", "elderly", "deleted_tags"])
def test_all_masks_requests_fill_the_page_without_relaxing(kind, method):
    """The author window (10, at most 1) and the category caps are satisfiable on this data:
    a full page of 50, no slot needs SCATTER_RELAXED. Checked with the reference backend."""
    cands, user, policy = synthetic.make_request(200, 16, seed=31, kind=kind, method=method)
    res = ranker.rank(cands, user, policy, backend="reference")
    assert res.status == Status.OK
    assert len(res) == 50
    assert not any(int(r) & Reason.SCATTER_RELAXED for r in res.reasons)
    assert sum(count for code, count in res.counts.items() if code != 0) > 0
