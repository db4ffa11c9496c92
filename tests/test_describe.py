"""The public description (ranker.describe): derived from the policy, complete in both languages."""

from __future__ import annotations

import argparse
import re
from collections import Counter

import pytest

import ranker
from ranker import describe as describe_mod
from ranker.describe import describe
from ranker.synthetic import make_policy

NUMBER = re.compile(r"\d+(?:\.\d+)?")
HEADING = re.compile(r"^(#+) ", re.M)

POLICIES = {
    "defaults": ranker.Policy(),
    "all-masks-mmr": make_policy("mmr", k=30),
    "dpp-pins-clamp": make_policy("dpp", k=20, pins=[{"item_id": 424242, "slot": 4}, {"item_id": 7, "slot": 0}],
                                  **{"price.action": "clamp", "diversity.candidates": 200,
                                     "minor.curfew_start": "21:30", "minor.curfew_end": "07:15"}),
    "flag-no-curfew": make_policy("none", all_masks=False, weights=(0.0, 0.0, 1.0),
                                  **{"price.action": "flag", "minor.curfew_start": "00:00", "minor.curfew_end": "00:00",
                                     "fraud.elderly_max_risk": 0.3, "minor.daily_minutes": {"12": 30}}),
    "off": make_policy("none", **{"price.action": "off", "tags.deletion": "ignore", "fraud.max_risk": 1.0,
                                  "fraud.elderly_max_risk": 1.0}),
}


def facts(text: str) -> Counter:
    """The numbers a description states, without the policy hash (hex digits are not facts to compare)."""
    return Counter(NUMBER.findall(re.sub(r"`[0-9a-f]{64}`", "", text)))


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_both_languages_state_the_same_facts(name):
    policy = POLICIES[name]
    en, zh = describe(policy, "en"), describe(policy, "zh")
    assert facts(en) == facts(zh)
    assert HEADING.findall(en) == HEADING.findall(zh)
    for text in (en, zh):
        assert policy.hash in text and ranker.__version__ in text
        assert "{" not in text and "}" not in text  # no unfilled template
    # the Chinese text is Chinese: no English prose left in it (code spans and fixed terms aside)
    words = set(re.findall(r"[A-Za-z]{3,}", re.sub(r"`[^`]*`", "", zh)))
    assert words <= {"ranker", "lambda", "alpha"}, words


def test_every_required_item_is_present():
    en = describe(POLICIES["all-masks-mmr"], "en")
    for heading in ("## 1. Basic principles", "## 2. Purpose", "## 3. Main mechanisms", "## 4. Signals used",
                    "## 5. User rights", "### 5.1 Switching personalisation off", "### 5.2 Deleting interest tags",
                    "### 5.3 Minor mode", "### 5.6 Complaints"):
        assert heading in en
    zh = describe(POLICIES["all-masks-mmr"], "zh")
    for heading in ("## 1. 基本原理", "## 2. 目的意图", "## 3. 主要运行机制", "## 4. 使用的信号", "## 5. 用户权利",
                    "关闭个性化推荐", "删除兴趣标签", "未成年人模式", "投诉"):
        assert heading in zh


def test_policy_values_reach_the_text():
    d = POLICIES["dpp-pins-clamp"].to_dict()
    en = describe(POLICIES["dpp-pins-clamp"], "en")
    assert "from 21:30 to 07:15 local time" in en
    assert "item 424242 at position 5" in en and "item 7 at position 1" in en
    assert "the reference price is shown instead" in en
    assert "determinantal point process" in en
    assert f"fraud risk above {d['fraud']['max_risk']:g} are removed" in en
    assert f"for elderly users the limit is {d['fraud']['elderly_max_risk']:g}" in en
    assert "Only the 200 best-scoring eligible items" in en
    share_cap = max(1, int(d["scatter"]["category_share"] * d["k"] + 1e-9))
    assert f"({share_cap} of {d['k']} items)" in en
    for age, minutes in d["minor"]["daily_minutes"].items():
        assert f"at most {minutes} minutes a day" in en and f"under {age} years" in en

    other = describe(POLICIES["flag-no-curfew"], "en")
    assert "- Curfew: none." in other and "no recommendations from" not in other
    assert "under 12 years: at most 30 minutes a day" in other and "12 years and over: no daily limit" in other
    assert "shown with a price notice" in other
    assert "no fraud-risk limit for users in general; for elderly users the limit is 0.3" in other
    assert "interest similarity | not used (weight 0)" in other
    assert "To show every user the same kind of page" in other  # no personal weights: non-personal purpose
    assert "Editorial placements: none." in other

    off = describe(POLICIES["off"], "en")
    assert "7. Price consistency: not applied by this policy" in off
    assert "6. Fraud risk: not applied by this policy" in off
    assert "items carrying it stay eligible" in off


def test_changing_a_value_changes_only_what_depends_on_it():
    base = POLICIES["all-masks-mmr"]
    changed = base.replace(**{"weights.prior": 0.25})
    a, b = describe(base, "en").splitlines(), describe(changed, "en").splitlines()
    diff = [(x, y) for x, y in zip(a, b) if x != y]
    assert len(a) == len(b)
    assert all("0.25" in y or base.hash in x for x, y in diff)
    assert any("0.25 × popularity and quality" in y for _, y in diff)


def test_contact_and_bad_language():
    text = describe(POLICIES["defaults"], "en", contact="complaints@example.org, answered within 15 days")
    assert "Complaints and appeals: complaints@example.org, answered within 15 days." in text
    assert "operator to complete" not in text
    assert "operator to complete" in describe(POLICIES["defaults"], "en")
    with pytest.raises(ValueError, match="lang"):
        describe(POLICIES["defaults"], "fr")


def cli(argv):
    parser = argparse.ArgumentParser(prog="ranker describe")
    describe_mod.add_arguments(parser)
    return describe_mod.run(parser.parse_args(argv))


def test_cli(tmp_path, capsys):
    toml = tmp_path / "policy.toml"
    toml.write_text('k = 12\n[weights]\nrelevance = 1.0\ntag = 0.4\n[minor]\ncurfew_start = "23:00"\n'
                    '[[pins]]\nitem_id = 99\nslot = 2\n', encoding="utf-8")
    policy = ranker.Policy.from_toml(toml)
    assert cli([str(toml)]) == 0
    out = capsys.readouterr().out
    assert out == describe(policy, "en", source="policy.toml")
    assert "from 23:00 to 06:00" in out and "item 99 at position 3" in out
    assert cli([str(toml), "--lang", "zh", "--output", str(tmp_path / "d.md")]) == 0
    assert (tmp_path / "d.md").read_text(encoding="utf-8") == describe(policy, "zh", source="policy.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[weights]\nrelevanse = 1.0\n", encoding="utf-8")
    with pytest.raises(ValueError):
        cli([str(bad)])


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_purpose_names_only_the_aims_the_policy_pursues(lang):
    def purpose(policy):
        text = describe(policy, lang)
        return text.split("## 2.")[1].split("## 3.")[0]

    # Every protective rule off but the ones that always apply (lawful content, minor mode).
    bare_policy = ranker.Policy.from_dict({"price": {"action": "off"}})  # the defaults: no fraud limit, no diversity
    bare = purpose(bare_policy)
    full = purpose(POLICIES["all-masks-mmr"])
    words = {"en": ["fraud", "prices", "varied"], "zh": ["欺诈", "价格", "多样"]}[lang]
    assert not any(w in bare for w in words), bare
    assert all(w in full for w in words), full
    elderly_only = purpose(bare_policy.replace(**{"fraud.elderly_max_risk": 0.3}))
    assert ("elderly users from fraud" if lang == "en" else "保护老年人免受欺诈") in elderly_only


def test_a_pin_beyond_the_page_says_so():
    policy = ranker.Policy.from_dict({"k": 10, "pins": [{"item_id": 5, "slot": 20}, {"item_id": 6, "slot": 3}]})
    text = describe(policy, "en")
    assert "item 5 at position 21 (beyond this policy's page length of 10" in text
    assert "item 6 at position 4." in text
    assert "超出本策略的页面长度 10" in describe(policy, "zh")
