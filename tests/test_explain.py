"""Explanations (ranker.explain): what they say follows from the result, and an opted-out
user's explanation never depends on, or mentions, personal data (Art. 16, 17)."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings

import ranker
from ranker import Drop, Reason, Status
from ranker.explain import explain, explain_drops
from requests import examples, requests


BACKENDS = ["reference", "native"]
NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?(?:e[+-]?\d+)?")
TAG = re.compile(r"#(\d+)")


def feed(n=40, d=4, seed=0, **extra):
    rng = np.random.default_rng(seed)
    fields = dict(
        item_id=np.arange(n) + 500, embedding=rng.normal(size=(n, d)).astype(np.float32),
        prior=rng.random(n).astype(np.float32), category=rng.integers(0, 4, n), author=rng.integers(0, 10, n),
        tags=[rng.choice(10, rng.integers(1, 4), replace=False).tolist() for _ in range(n)],
        flags=rng.choice(np.array([0, 0, 0, 0, 1, 2, 4, 12, 16], np.uint32), n),
        min_age=rng.choice(np.array([0, 0, 0, 12, 18], np.uint8), n),
        fraud_risk=rng.random(n).astype(np.float32),
        offered_price=np.where(rng.random(n) < 0.6, 10.0 * rng.choice([1.0, 1.0, 1.3, 0.7], n), np.nan),
        reference_price=np.full(n, 10.0))
    fields.update(extra)
    return ranker.Candidates(**fields)


def policy(**changes):
    base = ranker.Policy.from_dict({
        "k": 10, "weights": {"relevance": 1.0, "tag": 0.8, "prior": 0.3},
        "tags": {"forbidden": [9], "deletion": "ignore"},
        "fraud": {"max_risk": 0.9, "elderly_max_risk": 0.5},
        "price": {"action": "clamp", "abs_tol": 0.01, "rel_tol": 0.0},
        "key_slots": {"count": 2, "featured_min": 1},
    })
    return base.replace(**changes) if changes else base


def user(**kw):
    fields = dict(embedding=np.array([0.5, -0.2, 0.1, 0.9], np.float32), tags={1: 0.9, 2: 0.4, 3: -0.3, 9: 2.0},
                  deleted_tags=[2])
    fields.update(kw)
    return ranker.User(**fields)


def active_matches(res, slot):
    """Matched interest tags computed independently of ranker.explain: the user's tags minus deleted,
    minus forbidden, minus zero weights, intersected with the item's tags."""
    pol = res.policy.to_dict()
    banned = set(res.user.deleted_tags.tolist()) | set(pol["tags"]["forbidden"])
    active = {t: w for t, w in res.user.tags.items() if t not in banned and w != 0}
    return {t: active[t] for t in set(res.candidates.tags_of(int(res.indices[slot]))) if t in active}


@pytest.mark.parametrize("backend", BACKENDS)
def test_personalised_explanation_names_only_active_matched_tags(backend):
    res = ranker.rank(feed(), user(), policy(), backend=backend)
    assert len(res) == 10
    seen_tag_text = False
    for slot in range(len(res)):
        text = explain(res, slot)
        assert text.startswith(f"Position {slot + 1} (item {int(res.item_ids[slot])})")
        matches = active_matches(res, slot)
        named = {int(t) for t in TAG.findall(text)}
        assert named <= set(matches), (text, matches)
        assert 2 not in named and 9 not in named  # deleted and forbidden tags are never named
        if res.reasons[slot] & Reason.TAG_MATCH and not res.reasons[slot] & Reason.EDITORIAL:
            strongest = max(matches, key=lambda t: (abs(matches[t]), -t))
            assert strongest in named
            seen_tag_text = True
    assert seen_tag_text, "no slot exercised the tag-match explanation"


@pytest.mark.parametrize("backend", BACKENDS)
def test_contributions_are_ordered_and_add_up_to_the_score(backend):
    res = ranker.rank(feed(seed=3), user(), policy(**{"price.action": "drop"}), backend=backend)
    for slot in range(len(res)):
        text = explain(res, slot)
        values = [float(v) for v in re.findall(r"\(([+-]\d[\d.e+-]*)\)", text)]
        assert values == sorted(values, key=lambda v: -abs(v)), text
        # the three parts shown are the whole score (all three weights are non-zero here)
        assert sum(values) == pytest.approx(float(res.scores[slot]), abs=0.02 * len(values))


def test_opted_out_explanation_ignores_personal_data():
    cands, pol = feed(seed=5), policy()
    a = ranker.rank(cands, user(personalized=False), pol, backend="reference")
    b = ranker.rank(cands, user(personalized=False, embedding=np.array([-3.0, 1.0, 7.0, 0.0], np.float32),
                                tags={4: 1.0, 5: 0.7, 1: -1.0}, deleted_tags=[4, 6]), pol, backend="reference")
    assert np.array_equal(a.indices, b.indices)
    for lang in ("en", "zh"):
        for slot in range(len(a)):
            ta, tb = explain(a, slot, lang), explain(b, slot, lang)
            assert ta == tb
            assert not TAG.search(ta)
            assert "interest" not in ta and "兴趣" not in ta
        assert explain_drops(a, lang) == explain_drops(b, lang)
    assert "not personalised" in explain(a, 0)


@settings(max_examples=examples(60))
@given(req=requests(max_n=25))
def test_any_request_explains_every_slot_in_both_languages_with_the_same_numbers(req):
    cands, usr, pol, k, history = req
    try:
        res = ranker.rank(cands, usr, pol, k, backend="reference", history=history)
    except ValueError:
        return  # a rule whose input is missing: the request is refused, nothing to explain
    for slot in range(len(res)):
        en, zh = explain(res, slot, "en"), explain(res, slot, "zh")
        assert Counter(NUMBER.findall(en)) == Counter(NUMBER.findall(zh)), (en, zh)
        if not usr.personalized:
            assert not TAG.search(en) and "interest" not in en
    en, zh = explain_drops(res, "en"), explain_drops(res, "zh")
    assert Counter(NUMBER.findall(en)) == Counter(NUMBER.findall(zh)), (en, zh)


@pytest.mark.parametrize("backend", BACKENDS)
def test_explain_drops_counts_match_the_result(backend):
    cands = feed(n=60, seed=2)
    res = ranker.rank(cands, user(seen=[500, 501, 502], elderly=True), policy(**{"price.action": "drop"}),
                      backend=backend)
    text = explain_drops(res)
    lines = text.splitlines()
    eligible = res.counts[Drop.ELIGIBLE]
    assert lines[0] == f"60 candidates: {eligible} eligible, {60 - eligible} removed."
    listed = {m.group(2): int(m.group(1)) for m in re.finditer(r"^- (\d+) ([a-z ]+):", text, re.M)}
    names = {Drop.DUPLICATE: "duplicate", Drop.BLOCKED: "blocked", Drop.UNLABELED_SYNTHETIC: "unlabelled synthetic",
             Drop.MINOR_AGE: "age rating", Drop.MINOR_HARMFUL: "harmful for minors", Drop.FRAUD_RISK: "fraud risk",
             Drop.PRICE_PARITY: "price parity", Drop.DELETED_TAG: "deleted tag", Drop.SEEN: "already shown"}
    expected = {names[rule]: n for rule, n in res.counts.items() if rule != Drop.ELIGIBLE and n}
    assert listed == expected
    assert expected.get("already shown", 0) == int(np.sum(res.drop_codes == Drop.SEEN)) >= 1
    assert "threshold 0.5" in text  # the elderly threshold was the one applied


def test_editorial_featured_and_price_clamp_are_explained():
    cands = feed(n=30, seed=7, flags=np.where(np.arange(30) == 4, 16, 0).astype(np.uint32),
                 offered_price=np.where(np.arange(30) == 11, 13.0, 10.0), reference_price=np.full(30, 10.0))
    pol = policy(pins=[{"item_id": 511, "slot": 2}], **{"key_slots.count": 2, "key_slots.featured_min": 1})
    res = ranker.rank(cands, user(), pol, backend="reference")
    slots = {int(c): s for s, c in enumerate(res.indices)}
    assert slots[11] == 2 and res.reasons[2] & Reason.PRICE_CLAMPED
    pinned = explain(res, 2)
    assert "editorial pin" in pinned and "13.00" in pinned and "10.00" in pinned
    assert "编辑" in explain(res, 2, "zh")
    featured_slot = slots[4]
    assert featured_slot < 2
    assert "featured item, shown in one of the first 2 key positions" in explain(res, featured_slot)


def test_diversity_and_relaxed_scatter_are_explained():
    cands = feed(n=20, seed=1, category=np.zeros(20, np.int32))
    pol = policy(**{"diversity.method": "mmr", "diversity.lambda": 0.6, "scatter.category_window": 3,
                    "scatter.category_max": 1, "key_slots.count": 0, "key_slots.featured_min": 0})
    res = ranker.rank(cands, user(), pol, backend="reference")
    text = explain(res, 1)
    assert "MMR diversity, lambda 0.6" in text
    assert res.reasons[1] & Reason.SCATTER_RELAXED and "relaxed" in text


def test_refused_request_has_no_slots_and_says_why():
    usr = user(minor_mode=True, age=13, local_minute=23 * 60, usage_minutes_today=0)
    res = ranker.rank(feed(), usr, policy(**{"minor.curfew_start": "21:30"}), backend="reference")
    assert res.status == Status.CURFEW and len(res) == 0
    assert explain_drops(res).startswith("Nothing was served: the minor-mode curfew (21:30 to 06:00)")
    with pytest.raises(IndexError, match="CURFEW"):
        explain(res, 0)
    res = ranker.rank(feed(), user(minor_mode=True, age=13, local_minute=600, usage_minutes_today=75), policy(),
                      backend="reference")
    assert res.status == Status.DAILY_LIMIT
    assert "daily time limit" in explain_drops(res) and "每日使用时长上限" in explain_drops(res, "zh")


def test_unplaced_pin_is_reported():
    cands = feed(n=20, seed=4, flags=np.where(np.arange(20) == 3, 1, 0).astype(np.uint32))
    pol = policy(pins=[{"item_id": 503, "slot": 0}, {"item_id": 99999, "slot": 1}])
    text = explain_drops(ranker.rank(cands, user(), pol, backend="reference"))
    assert "item 503 for position 1 was not placed: not eligible (blocked)" in text
    assert "item 99999 for position 2 was not placed: the item was not among the candidates" in text


def test_bad_arguments():
    res = ranker.rank(feed(), user(), policy(), backend="reference")
    with pytest.raises(ValueError, match="lang"):
        explain(res, 0, "fr")
    with pytest.raises(ValueError, match="lang"):
        explain_drops(res, "de")
    with pytest.raises(IndexError, match="out of range"):
        explain(res, len(res))
    assert explain(res, -1) == explain(res, len(res) - 1)
    assert res.explain(0, lang="zh") == explain(res, 0, "zh")
    assert res.explain_drops() == explain_drops(res)
