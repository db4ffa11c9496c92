"""Differential fuzzing: valid generated requests, then hostile mutations of their arrays made
after construction (as a caller changing its buffers would). Both backends must either refuse
with the same exception class, naming the field, or agree by the certificate rule.

A longer run is one command: ``HYPOTHESIS_PROFILE=long pytest tests/test_fuzz.py``.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import ranker
from invariants import check_result
from requests import examples, requests

MUTATIONS = [
    ("candidates.embedding", lambda c, u, rng: c.embedding.__setitem__((rng.integers(c.n), 0), np.nan)),
    ("candidates.embedding", lambda c, u, rng: c.embedding.__setitem__((rng.integers(c.n), 0), np.inf)),
    ("candidates.prior", lambda c, u, rng: c.prior.__setitem__(rng.integers(c.n), -np.inf)),
    ("candidates.flags", lambda c, u, rng: c.flags is not None and c.flags.__setitem__(rng.integers(c.n), 1 << 30)),
    ("candidates.fraud_risk",
     lambda c, u, rng: c.fraud_risk is not None and c.fraud_risk.__setitem__(rng.integers(c.n), 1.0001)),
    ("candidates.fraud_risk",
     lambda c, u, rng: c.fraud_risk is not None and c.fraud_risk.__setitem__(rng.integers(c.n), np.nan)),
    ("candidates.offered_price",
     lambda c, u, rng: c.offered_price is not None and c.offered_price.__setitem__(rng.integers(c.n), -0.5)),
    ("candidates.reference_price",
     lambda c, u, rng: c.reference_price is not None and c.reference_price.__setitem__(rng.integers(c.n), np.inf)),
    ("candidates.tags",
     lambda c, u, rng: c.tag_ids is not None and len(c.tag_ids) and c.tag_ids.__setitem__(0, -7)),
    ("candidates.tags",
     lambda c, u, rng: c.tag_indptr is not None and c.tag_indptr.__setitem__(c.n, c.tag_indptr[c.n] + 3)),
    ("candidates.tags",
     lambda c, u, rng: c.tag_indptr is not None and c.n > 1 and c.tag_indptr.__setitem__(1, 10**6)),
    ("user.embedding", lambda c, u, rng: u.embedding.__setitem__(0, np.nan)),
    ("user.tags", lambda c, u, rng: len(u.tag_weights) and u.tag_weights.__setitem__(0, np.inf)),
    ("user.tags", lambda c, u, rng: len(u.tag_ids) and u.tag_ids.__setitem__(0, -1)),
    ("user.deleted_tags", lambda c, u, rng: len(u.deleted_tags) and u.deleted_tags.__setitem__(0, -2)),
    (None, lambda c, u, rng: None),   # no mutation: the request stays valid
]


@settings(max_examples=examples(400))
@given(data=requests(max_n=25), which=st.integers(0, len(MUTATIONS) - 1), seed=st.integers(0, 2**31))
def test_hostile_mutations_are_refused_alike_or_agreed(data, which, seed):
    cands, user, policy, k, history = data
    field, mutate = MUTATIONS[which]
    rng = np.random.default_rng(seed)
    if cands.n:
        applied = mutate(cands, user, rng) is not False
    else:
        applied = field is not None and field.startswith("user") and mutate(cands, user, rng) is not False
    cmp = ranker.compare(cands, user, policy, k, history=history)
    assert cmp.equivalent, cmp.divergences
    if cmp.error is None:
        check_result(cmp.native, history)
    errors = []
    for backend in ("native", "reference"):
        try:
            ranker.rank(cands, user, policy, k, backend=backend, history=history)
        except ValueError as exc:
            errors.append(str(exc))
    if errors and field is not None and applied:
        # Each refusal names a field (the mutated one, or a fail-closed requirement found first).
        assert all(msg.split(":")[0].startswith(("candidates.", "user.", "history.", "k")) for msg in errors), errors


def test_pinned_failures():
    """Cases the fuzzer found, kept as regular tests."""
    # A CSR whose last offset points past the tag array must be refused before any tag is read.
    cands = ranker.Candidates(item_id=[1, 2], embedding=np.ones((2, 2)), prior=[0, 0],
                              tags=(np.array([0, 1, 5]), np.array([3, 4], np.int32)))
    for backend in ("native", "reference"):
        try:
            ranker.rank(cands, ranker.User(embedding=[1, 1]), ranker.Policy(), backend=backend)
        except ValueError as exc:
            assert str(exc).startswith("candidates.tags")
        else:
            raise AssertionError(f"{backend} accepted an out-of-range CSR")
