"""The NumPy baseline of the benchmarks (bench/numpy_baseline.py) computes what the core computes.

The benchmark reports "native is N times faster than NumPy"; that ratio only means something
if both run the same pipeline. So the baseline is held to the same rule as the native backend:
drop codes, counts, statuses and pin statuses identical to the reference, and the selected
sequence certificate-equivalent (the same items except floating-point ties), on the synthetic
feed scenarios and on generated requests that hit every rule; and identical to the native
backend where that is built.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings

import ranker
from ranker.benchmark import load_baseline
from ranker.result import RankResult
from ranker.synthetic import SCENARIOS
from requests import examples, requests

BASELINE_PATH = Path(__file__).resolve().parent.parent / "bench" / "numpy_baseline.py"


baseline = load_baseline(str(BASELINE_PATH))


def _as_rank_result(out, cands, user, policy, history) -> RankResult:
    """The baseline's output in a RankResult, so ``ranker.certify`` can replay it."""
    return RankResult(status=out.status, indices=out.indices, scores=out.scores, reasons=out.reasons,
                      prices=out.prices, drop_codes=out.drop_codes, counts=out.counts,
                      pin_status=np.asarray(out.pin_status, dtype=np.uint8), backend="numpy", k=out.k,
                      candidates=cands, user=user, policy=policy, history=ranker.api.as_history(history))


def _check_against_reference(cands, user, policy, k=None, history=None):
    """Baseline vs reference: exact on drops/status/pins, certificate on the sequence."""
    try:
        ref = ranker.rank(cands, user, policy, k, backend="reference", history=history)
    except ValueError:
        with pytest.raises(ValueError):
            baseline.rank(cands, user, policy, k, history)
        return None
    out = baseline.rank(cands, user, policy, k, history)
    assert out.drop_codes.dtype == np.uint8
    np.testing.assert_array_equal(out.drop_codes, ref.drop_codes)
    np.testing.assert_array_equal(out.counts, np.asarray(ref._counts))
    assert out.status == int(ref.status)
    assert out.pin_status == [int(s) for s in ref.pin_status]
    assert out.k == ref.k
    cmp = ranker.certify(_as_rank_result(out, cands, user, policy, history), cands, user, policy, ref.k, history)
    assert cmp.equivalent, cmp.divergences
    return out, ref, cmp


def _small(name: str, n: int = 200) -> ranker.synthetic.Scenario:
    return dataclasses.replace(SCENARIOS[name], n=n)


# The scenarios of the benchmark, at a size the reference handles quickly.
SMALL_SCENARIOS = {
    "feed-200-none": SCENARIOS["feed-200-none"],
    "feed-200-mmr": SCENARIOS["feed-200-mmr"],
    "feed-200-dpp": SCENARIOS["feed-200-dpp"],
    "minor-mmr": _small("feed-1k-minor-mmr"),
    "optout-mmr": _small("feed-1k-optout-mmr"),
    "window": _small("feed-1k-window"),
    "d32-mmr": _small("feed-1k-d32-mmr"),
}


@pytest.mark.parametrize("name", sorted(SMALL_SCENARIOS))
def test_baseline_matches_reference_on_scenarios(name):
    scenario = SMALL_SCENARIOS[name]
    policy = scenario.policy()
    identical = 0
    requests_ = scenario.build(2)
    for cands, user in requests_:
        out, ref, cmp = _check_against_reference(cands, user, policy)
        assert len(out) == len(ref) == policy.k
        identical += np.array_equal(out.indices, ref.indices)
    # Ties are allowed, but on realistic data they are rare: most pages are the same item for item.
    assert identical >= len(requests_) - 1


@pytest.mark.parametrize("method", ["none", "mmr", "dpp"])
def test_baseline_matches_reference_with_pins_history_and_truncation(method):
    scenario = SCENARIOS["feed-200-none"]
    (cands, user), = scenario.build(1)
    ids = cands.item_id
    policy = scenario.policy().replace(**{
        "diversity.method": method,
        "diversity.candidates": 60,
        "k": 20,
        "pins": [{"item_id": int(ids[7]), "slot": 0}, {"item_id": int(ids[50]), "slot": 4},
                 {"item_id": int(ids[51]), "slot": 5}, {"item_id": 123, "slot": 6},
                 {"item_id": int(ids[90]), "slot": 30}],
    })
    first = _check_against_reference(cands, user, policy)
    assert first is not None
    page_one = first[1]
    # Page two continues the windows and the MMR penalty from page one.
    (cands2, user2), = dataclasses.replace(scenario, seed=scenario.seed + 1).build(1)
    _check_against_reference(cands2, user2, policy, history=page_one)


@pytest.mark.parametrize("action", ["clamp", "flag", "off"])
def test_baseline_matches_reference_on_price_actions(action):
    (cands, user), = SCENARIOS["feed-200-mmr"].build(1)
    policy = SCENARIOS["feed-200-mmr"].policy().replace(**{"price.action": action})
    out, _, _ = _check_against_reference(cands, user, policy)
    if action == "clamp":
        assert np.all(out.prices[~np.isnan(out.prices)] >= 0)


@pytest.mark.parametrize("minute,usage", [(23 * 60, 0), (12 * 60, 500)])
def test_baseline_matches_reference_when_minor_mode_refuses(minute, usage):
    scenario = _small("feed-1k-minor-mmr", 50)
    (cands, user), = scenario.build(1)
    user = ranker.User(user.embedding, (user.tag_ids, user.tag_weights), minor_mode=True, age=user.age,
                       local_minute=minute, usage_minutes_today=usage)
    policy = scenario.policy().replace(pins=[{"item_id": int(cands.item_id[0]), "slot": 1}])
    out, ref, _ = _check_against_reference(cands, user, policy)
    assert out.status != 0 and len(out) == 0


@pytest.mark.parametrize("n,k", [(0, 5), (1, 5), (7, 0), (7, 7), (7, 8)])
def test_baseline_matches_reference_on_tiny_requests(n, k):
    for method in ("none", "mmr", "dpp"):
        scenario = dataclasses.replace(SCENARIOS["feed-200-none"], n=n, method=method)
        (cands, user), = scenario.build(1)
        _check_against_reference(cands, user, scenario.policy(), k)


@settings(max_examples=examples(150))
@given(data=requests())
def test_baseline_matches_reference_on_generated_requests(data):
    cands, user, policy, k, history = data
    _check_against_reference(cands, user, policy, k, history)


@settings(max_examples=examples(100))
@given(data=requests(methods=("none",)))
def test_baseline_walk_falls_back_to_the_full_order(data):
    """Without diversity the baseline sorts only the head of the pool; past it, it sorts all."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(baseline, "WALK_PER_SLOT", 0)
        mp.setattr(baseline, "WALK_EXTRA", 1)
        _check_against_reference(*data)


@pytest.mark.parametrize("name", ["feed-200-none", "feed-200-mmr", "feed-200-dpp", "feed-1k-mmr",
                                  "feed-1k-dpp", "feed-1k-window", "feed-1k-optout-mmr", "feed-1k-minor-mmr"])
def test_baseline_matches_native(name):
    """Same inputs as the benchmark: same drops exactly; the same pages except certified ties."""
    scenario = SCENARIOS[name]
    policy = scenario.policy()
    for cands, user in scenario.build(3):
        nat = ranker.rank(cands, user, policy)
        out = baseline.rank(cands, user, policy)
        np.testing.assert_array_equal(out.drop_codes, nat.drop_codes)
        np.testing.assert_array_equal(out.counts, np.asarray(nat._counts))
        assert out.status == int(nat.status)
        assert out.pin_status == [int(s) for s in nat.pin_status]
        if np.array_equal(out.indices, nat.indices):
            np.testing.assert_array_equal(out.reasons, nat.reasons)
            np.testing.assert_allclose(out.scores, nat.scores, rtol=1e-5, atol=1e-6)
        else:
            # A float tie decided differently: both must still pass the certificate.
            for res in (nat, _as_rank_result(out, cands, user, policy, None)):
                cmp = ranker.certify(res, cands, user, policy)
                assert cmp.equivalent, (res.backend, cmp.divergences)
