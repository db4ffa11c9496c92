"""Policy loading: defaults, TOML, refusal of unknown keys and impossible values, hashing."""

from __future__ import annotations

import pytest

import ranker
from ranker.policy import DEFAULTS


def test_every_key_has_a_default_and_from_dict_takes_the_toml_shape(tmp_path):
    assert ranker.Policy().to_dict() == ranker.Policy.from_dict({}).to_dict()
    text = """
k = 20
[weights]
relevance = 1.0
tag = 0.3
[tags]
forbidden = [4, 2]
deletion = "suppress"
[minor]
daily_minutes = { "8" = 30, "16" = 60 }
[[pins]]
item_id = 123
slot = 0
[diversity]
method = "mmr"
lambda = 0.5
[scatter]
category_window = 4
category_max = 1
"""
    path = tmp_path / "policy.toml"
    path.write_text(text)
    p = ranker.Policy.from_toml(path)
    d = p.to_dict()
    assert d["k"] == 20 and d["tags"]["forbidden"] == [2, 4] and d["pins"] == [{"item_id": 123, "slot": 0}]
    assert d["minor"]["daily_minutes"] == {"8": 30, "16": 60} and d["price"] == DEFAULTS["price"]
    assert ranker.Policy.from_dict(d) == p and ranker.Policy.from_dict(d).hash == p.hash


@pytest.mark.parametrize("raw,field", [
    ({"weights": {"relevnce": 1.0}}, "policy.weights.relevnce"),
    ({"scatter": {"category_windw": 3}}, "policy.scatter.category_windw"),
    ({"kk": 3}, "policy.kk"),
    ({"pins": [{"item_id": 1, "slot": 0, "pos": 1}]}, "policy.pins[0].pos"),
])
def test_unknown_keys_are_refused(raw, field):
    with pytest.raises(ValueError, match=field.replace("[", r"\[").replace("]", r"\]")):
        ranker.Policy.from_dict(raw)


@pytest.mark.parametrize("raw,error,field", [
    ({"k": -1}, ValueError, "policy.k"),
    ({"k": 2.5}, TypeError, "policy.k"),
    ({"k": 10**9}, ValueError, "policy.k"),
    ({"weights": {"tag": float("nan")}}, ValueError, "policy.weights.tag"),
    ({"tags": {"deletion": "erase"}}, ValueError, "policy.tags.deletion"),
    ({"minor": {"curfew_start": "25:00"}}, ValueError, "policy.minor.curfew_start"),
    ({"minor": {"daily_minutes": {"x": 3}}}, ValueError, "policy.minor.daily_minutes"),
    ({"fraud": {"max_risk": 1.5}}, ValueError, "policy.fraud.max_risk"),
    ({"price": {"action": "maybe"}}, ValueError, "policy.price.action"),
    ({"price": {"rel_tol": -0.1}}, ValueError, "policy.price.rel_tol"),
    ({"key_slots": {"count": 2, "featured_min": 3}}, ValueError, "policy.key_slots.featured_min"),
    ({"pins": [{"item_id": 1, "slot": 0}, {"item_id": 1, "slot": 2}]}, ValueError, "policy.pins"),
    ({"pins": [{"item_id": 1, "slot": 0}, {"item_id": 2, "slot": 0}]}, ValueError, "policy.pins"),
    ({"pins": [{"item_id": 1}]}, ValueError, "policy.pins"),
    ({"diversity": {"method": "xquad"}}, ValueError, "policy.diversity.method"),
    ({"diversity": {"lambda": 1.2}}, ValueError, "policy.diversity.lambda"),
    ({"scatter": {"category_window": 3, "category_max": 0}}, ValueError, "policy.scatter.category_max"),
    ({"scatter": {"category_share": 0.0}}, ValueError, "policy.scatter.category_share"),
    ({"weights": "heavy"}, TypeError, "policy.weights"),
    # Neither relevance nor prior: an item matching no interest tag would be served with no reason.
    ({"weights": {"relevance": 0.0, "tag": 1.0}}, ValueError, "policy.weights: relevance and prior are both 0"),
    ({"weights": {"relevance": -0.0, "prior": 0.0}}, ValueError, "policy.weights: relevance and prior are both 0"),
])
def test_impossible_values_are_refused_naming_the_key(raw, error, field):
    with pytest.raises(error, match=field.replace("[", r"\[").replace(".", r"\.")):
        ranker.Policy.from_dict(raw)


def test_bad_toml_names_the_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("k = = 3")
    with pytest.raises(ValueError, match="broken.toml"):
        ranker.Policy.from_toml(path)
    path.write_bytes(b"\xff\xfek = 3")
    with pytest.raises(ValueError, match=r"broken\.toml: not UTF-8 text"):
        ranker.Policy.from_toml(path)
    with pytest.raises(ValueError, match=r"policy file .*: is a folder"):
        ranker.Policy.from_toml(tmp_path)


def test_hash_changes_with_any_rule_and_replace_leaves_the_original():
    p = ranker.Policy()
    q = p.replace(**{"fraud.elderly_max_risk": 0.5})
    assert p.hash != q.hash and p.to_dict()["fraud"]["elderly_max_risk"] == 1.0
    assert q["fraud"]["elderly_max_risk"] == 0.5
    copy = p.to_dict()
    copy["k"] = 3
    assert p.k == 50   # to_dict hands out a copy; the policy is immutable
