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
