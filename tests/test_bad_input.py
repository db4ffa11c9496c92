"""Bad input: every refusal is a ValueError or TypeError that names the field, on both backends,
raised before anything is returned. Layout problems (strided, read-only, other byte orders,
convertible dtypes) are accepted and read correctly."""

from __future__ import annotations

import copy
import pickle
import sys

import numpy as np
import pytest

import ranker


BACKENDS = ["native", "reference"]
N, D = 8, 3


def fields(**changes):
    rng = np.random.default_rng(0)
    base = dict(item_id=np.arange(N), embedding=rng.normal(size=(N, D)).astype(np.float32),
                prior=rng.random(N).astype(np.float32), category=np.arange(N) % 3, author=np.arange(N) % 4,
                tags=[[1, 2]] * N, flags=np.zeros(N, np.uint32), min_age=np.zeros(N, np.uint8),
                fraud_risk=np.full(N, 0.1, np.float32), offered_price=np.full(N, 10.0),
                reference_price=np.full(N, 10.0))
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def user(**changes):
    base = dict(embedding=np.ones(D, np.float32), tags={1: 0.5}, deleted_tags=[2], local_minute=600,
                usage_minutes_today=0)
    base.update(changes)
    emb = base.pop("embedding")
    return ranker.User(emb, **base)


STRICT = ranker.Policy.from_dict({"tags": {"deletion": "suppress"}, "fraud": {"max_risk": 0.9},
                                  "scatter": {"category_window": 3, "category_max": 1, "author_window": 2,
                                              "author_max": 1}})


def run(backend, cands=None, u=None, policy=STRICT, **kw):
    return ranker.rank(cands or ranker.Candidates(**fields()), u or user(), policy, backend=backend, **kw)


CONSTRUCTION_ERRORS = [
    (dict(item_id=np.arange(N) + 0.5), TypeError, "candidates.item_id"),
    (dict(item_id=["a"] * N), TypeError, "candidates.item_id"),
    # 2.0**63 is above int64's range, but int64's largest value rounds up to it in float64.
    (dict(item_id=np.arange(N) * 1.0 + np.where(np.arange(N) == 0, 2.0**63, 0.0)), ValueError,
     r"candidates\.item_id: values must fit in int64"),
    (dict(flags=np.full(N, 2.0**32)), ValueError, r"candidates\.flags: values must fit in uint32"),
    (dict(embedding=np.ones(N, np.float32)), ValueError, "candidates.embedding"),
    (dict(embedding=np.ones((N + 1, D), np.float32)), ValueError, "candidates.embedding"),
    (dict(embedding=np.ones((N, 0), np.float32)), ValueError, "candidates.embedding"),
    (dict(prior=np.ones(N - 1)), ValueError, "candidates.prior"),
    (dict(category=np.arange(N) + 0.25), TypeError, "candidates.category"),
    (dict(category=np.full(N, 2**40)), ValueError, "candidates.category"),
    (dict(author=np.arange(N + 2)), ValueError, "candidates.author"),
    (dict(tags=[[1]] * (N - 1)), ValueError, "candidates.tags"),
    (dict(tags=(np.arange(N), np.arange(3))), ValueError, "candidates.tags"),
    (dict(tags="1,2"), TypeError, "candidates.tags"),
    (dict(flags=np.full(N, -1)), ValueError, "candidates.flags"),
    (dict(min_age=np.full(N, 300)), ValueError, "candidates.min_age"),
    (dict(reference_price=None), ValueError, "candidates.reference_price"),
    (dict(fraud_risk=np.array(["low"] * N)), TypeError, "candidates.fraud_risk"),
    # Finite float64 beyond float32's range: refused with the value given, not as the inf it
    # would round to.
    (dict(embedding=np.where(np.arange(N * D).reshape(N, D) == D + 2, -1e300, 1.0)), ValueError,
     r"candidates\.embedding: value at row 1, column 2 is -1e\+300, beyond the range of float32"),
    (dict(prior=np.where(np.arange(N) == 3, 4e38, 0.5)), ValueError,
     r"candidates\.prior: value at index 3 is 4e\+38, beyond the range of float32"),
]


@pytest.mark.parametrize("change,error,field", CONSTRUCTION_ERRORS)
def test_candidates_refuse_bad_fields(change, error, field):
    with pytest.raises(error, match=field):
        ranker.Candidates(**fields(**change))


RANK_TIME_ERRORS = [
    (dict(embedding=np.where(np.eye(N, D, dtype=bool), np.nan, 1).astype(np.float32)), "candidates.embedding"),
    (dict(embedding=np.full((N, D), np.inf, np.float32)), "candidates.embedding"),
    (dict(prior=np.array([np.nan] + [0.0] * (N - 1))), "candidates.prior"),
    (dict(tags=[[1, -3]] + [[1]] * (N - 1)), "candidates.tags"),
    (dict(tags=(np.array([0, 2, 1] + [2] * (N - 2)), np.array([1, 2], np.int32))), "candidates.tags"),
    (dict(tags=(np.array([1] * (N + 1)), np.array([1], np.int32))), "candidates.tags"),
    (dict(flags=np.full(N, 64, np.uint32)), "candidates.flags"),
    (dict(fraud_risk=np.full(N, 1.5, np.float32)), "candidates.fraud_risk"),
    (dict(fraud_risk=np.full(N, np.nan, np.float32)), "candidates.fraud_risk"),
    (dict(offered_price=np.full(N, -1.0)), "candidates.offered_price"),
    (dict(reference_price=np.full(N, np.inf)), "candidates.reference_price"),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("change,field", RANK_TIME_ERRORS)
def test_bad_candidate_values_are_refused_at_rank_time(backend, change, field):
    cands = ranker.Candidates(**fields(**change))
    with pytest.raises(ValueError, match=field):
        run(backend, cands)


USER_CONSTRUCTION_ERRORS = [
    (dict(age=-1), ValueError, "user.age"),
    (dict(age=200), ValueError, "user.age"),
    (dict(age=12.5), TypeError, "user.age"),
    (dict(age=True), TypeError, "user.age"),
    (dict(local_minute=1440), ValueError, "user.local_minute"),
    (dict(usage_minutes_today=-5), ValueError, "user.usage_minutes_today"),
    (dict(personalized="yes"), TypeError, "user.personalized"),
    (dict(tags={"a": 1.0}), TypeError, "user.tags"),
    (dict(tags=([1, 1], [0.1, 0.2])), ValueError, "user.tags"),
    (dict(tags=([1, 2], [0.1])), ValueError, "user.tags"),
    (dict(tags=[1, 2]), TypeError, "user.tags"),
    (dict(embedding=np.ones((2, D))), ValueError, "user.embedding"),
    (dict(seen=["x"]), TypeError, "user.seen"),
    (dict(embedding=np.full(D, 1e39)), ValueError, r"user\.embedding: value at index 0 is 1e\+39, beyond"),
]


@pytest.mark.parametrize("change,error,field", USER_CONSTRUCTION_ERRORS)
def test_user_refuses_bad_fields(change, error, field):
    with pytest.raises(error, match=field):
        user(**change)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("change,field", [
    (dict(embedding=np.ones(D + 1)), "user.embedding"),
    (dict(embedding=np.array([np.nan, 0, 0])), "user.embedding"),
    (dict(tags={1: float("inf")}), "user.tags"),
    (dict(tags={-4: 1.0}), "user.tags"),
    (dict(deleted_tags=[-1]), "user.deleted_tags"),
])
def test_bad_user_values_are_refused_at_rank_time(backend, change, field):
    with pytest.raises(ValueError, match=field):
        run(backend, u=user(**change))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kwargs,error,field", [
    (dict(k=-1), ValueError, "k"),
    (dict(k=2.5), TypeError, "k"),
    (dict(k=10**12), ValueError, "k"),
    (dict(history=[1, 2]), TypeError, "history"),
    (dict(history=ranker.History(embeddings=np.ones((2, D + 1)))), ValueError, "history.embeddings"),
    (dict(history=ranker.History(embeddings=np.full((1, D), np.nan))), ValueError, "history.embeddings"),
])
def test_bad_rank_arguments(backend, kwargs, error, field):
    with pytest.raises(error, match=field):
        run(backend, **kwargs)


def test_wrong_objects_and_backend_names():
    cands = ranker.Candidates(**fields())
    with pytest.raises(TypeError, match="candidates"):
        ranker.rank(fields(), user(), STRICT)
    with pytest.raises(TypeError, match="user"):
        ranker.rank(cands, {"embedding": [1, 2, 3]}, STRICT)
    with pytest.raises(TypeError, match="policy"):
        ranker.rank(cands, user(), {"k": 3})
    with pytest.raises(ValueError, match="backend"):
        ranker.rank(cands, user(), STRICT, backend="gpu")
    with pytest.raises(TypeError, match=r"requests\[1\]"):
        ranker.rank_batch([(cands, user()), cands], STRICT)
    with pytest.raises(TypeError, match=r"requests\[1\]: history"):
        ranker.rank_batch([(cands, user()), (cands, user(), 5)], STRICT)
    with pytest.raises(ValueError, match="threads"):
        ranker.rank_batch([(cands, user())], STRICT, threads=0)


@pytest.mark.parametrize("make, field, value", [
    (lambda: ranker.Candidates(**fields()), "flags", np.full(N, ranker.Flag.BLOCKED, np.uint32)),
    (lambda: ranker.Candidates(**fields()), "item_id", np.arange(N) + 100),
    (lambda: user(), "personalized", False),
    (lambda: user(), "minor_mode", True),
    (lambda: ranker.History(categories=[1, 2]), "categories", np.array([0, 0], np.int32)),
])
def test_fields_cannot_be_reassigned_after_construction(make, field, value):
    # The native backend keeps a view of the fields it was first given: a reassigned field would
    # reach the reference but not the native backend (a BLOCKED flag set after a first rank()
    # was served). Reassignment and deletion are refused, before and after a first rank().
    obj = make()
    kind = type(obj).__name__.lower()
    before = getattr(obj, field)
    with pytest.raises(AttributeError, match=rf"{kind}\.{field}: a \w+ cannot be changed after construction"):
        setattr(obj, field, value)
    with pytest.raises(AttributeError, match=rf"{kind}\.{field}"):
        delattr(obj, field)
    if isinstance(obj, ranker.History):
        obj.native()
    else:
        run("native", **{"u" if kind == "user" else "cands": obj})
    with pytest.raises(AttributeError, match=rf"{kind}\.{field}"):
        setattr(obj, field, value)
    assert getattr(obj, field) is before


@pytest.mark.parametrize("copy_of", [lambda o: pickle.loads(pickle.dumps(o)), copy.copy, copy.deepcopy])
def test_read_only_objects_pickle_and_copy_before_and_after_ranking(copy_of):
    # A worker pool sends requests to other processes: the fields travel, the native view does
    # not (it cannot be pickled) and is rebuilt there.
    cands, u, hist = ranker.Candidates(**fields()), user(), ranker.History(categories=[0, 1], authors=[2, 3])
    for ranked in (False, True):
        if ranked:
            first = run("native", cands, u, history=hist)
        c2, u2, h2 = copy_of(cands), copy_of(u), copy_of(hist)
        assert c2 is not cands and np.array_equal(c2.embedding, cands.embedding) and c2.tags_of(1) == cands.tags_of(1)
        assert (u2.personalized, u2.tags, u2.local_minute) == (u.personalized, u.tags, u.local_minute)
        again = run("native", c2, u2, history=h2)
        assert np.array_equal(again.indices, run("reference", cands, u, history=hist).indices)
        if ranked:
            assert np.array_equal(again.indices, first.indices)
        with pytest.raises(AttributeError, match="cannot be changed after construction"):
            c2.flags = None


def test_the_native_module_names_a_history_of_the_wrong_type():
    # The binding checks history itself (it takes an object, see csrc/module.cpp).
    from ranker._backend import native_module

    core, c, u = native_module(), ranker.Candidates(**fields()).native(), user().native()
    with pytest.raises(TypeError, match="history: expected HistoryCore or None"):
        core.rank(c, u, STRICT.native(), 3, "the previous page")
    with pytest.raises(TypeError, match=r"requests\[1\]\[2\]: expected HistoryCore or None"):
        core.rank_batch([(c, u, None), (c, u, c)], STRICT.native(), 3)


# Fail closed: a rule that applies but lacks its input refuses to serve.
FAIL_CLOSED = [
    (dict(min_age=None), dict(minor_mode=True), STRICT, "candidates.min_age"),
    ({}, dict(minor_mode=True, local_minute=None), STRICT, "user.local_minute"),
    ({}, dict(minor_mode=True, usage_minutes_today=None), STRICT, "user.usage_minutes_today"),
    (dict(fraud_risk=None), {}, STRICT, "candidates.fraud_risk"),
    (dict(fraud_risk=None), dict(elderly=True), ranker.Policy.from_dict({"fraud": {"elderly_max_risk": 0.5}}),
     "candidates.fraud_risk"),
    (dict(tags=None), {}, STRICT, "candidates.tags"),
    (dict(category=None), {}, STRICT, "candidates.category"),
    (dict(author=None), {}, STRICT, "candidates.author"),
    (dict(category=None), {}, ranker.Policy.from_dict({"scatter": {"category_share": 0.5}}), "candidates.category"),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cand_change,user_change,policy,field", FAIL_CLOSED)
def test_missing_input_for_an_applicable_rule_refuses(backend, cand_change, user_change, policy, field):
    cands = ranker.Candidates(**fields(**cand_change))
    with pytest.raises(ValueError, match=field):
        run(backend, cands, user(**user_change), policy)


@pytest.mark.parametrize("backend", BACKENDS)
def test_rules_that_do_not_apply_need_no_input(backend):
    # No fraud threshold, no window, no suppression, not a minor: the optional fields may be absent.
    cands = ranker.Candidates(item_id=np.arange(N), embedding=np.ones((N, D)), prior=np.zeros(N))
    res = ranker.rank(cands, user(), ranker.Policy(), backend=backend)
    assert len(res) == N


@pytest.mark.parametrize("backend", BACKENDS)
def test_strided_readonly_and_byteswapped_arrays_are_read_correctly(backend):
    rng = np.random.default_rng(1)
    big = rng.normal(size=(2 * N, 2 * D)).astype(np.float64)
    emb = big[::2, ::2]                       # strided float64 view
    prior = rng.random(N).astype(">f4")       # big-endian
    risk = np.full(N, 0.1, np.float32)
    risk.setflags(write=False)
    ids = np.arange(N, dtype=np.int32)        # narrower int: widened losslessly
    cands = ranker.Candidates(item_id=ids, embedding=emb, prior=prior, fraud_risk=risk)
    same = ranker.Candidates(item_id=np.arange(N, dtype=np.int64), embedding=np.ascontiguousarray(emb, np.float32),
                             prior=prior.astype(np.float32), fraud_risk=risk.copy())
    u = ranker.User(embedding=np.ones(D))
    a, b = ranker.rank(cands, u, ranker.Policy(), backend=backend), ranker.rank(same, u, ranker.Policy(),
                                                                                 backend=backend)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.scores, b.scores)
    assert not emb.flags.c_contiguous   # the caller's view is untouched


def test_native_import_failure_is_an_error_not_a_fallback(monkeypatch):
    from ranker import _backend

    monkeypatch.setattr(_backend, "_module", None)
    monkeypatch.setitem(sys.modules, "ranker._native", None)   # makes the import fail...
    monkeypatch.delattr(ranker, "_native", raising=False)      # ...even after an earlier successful one
    cands = ranker.Candidates(**fields())
    with pytest.raises(ImportError, match="native module"):
        ranker.rank(cands, user(), STRICT, backend="native")
    assert len(ranker.rank(cands, user(deleted_tags=[]), STRICT, backend="reference").indices) > 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_partial_result_on_error(backend):
    """An error anywhere in a batch means no results at all, and names the request."""
    good = ranker.Candidates(**fields())
    bad = ranker.Candidates(**fields(fraud_risk=np.full(N, 2.0, np.float32)))
    with pytest.raises(ValueError, match=r"request 1: candidates\.fraud_risk"):
        ranker.rank_batch([(good, user()), (bad, user()), (good, user())], STRICT, threads=2, backend=backend)
    assert sum(ranker.rank(good, user(), STRICT, backend=backend).counts.values()) == N


@pytest.mark.parametrize("backend", BACKENDS)
def test_finite_embeddings_whose_products_overflow_float32_are_accepted(backend):
    """Entries of 1e37 against a user embedding of 100s: every product overflows float32 (the
    native scoring pass sums in float lanes), but the input is finite and the score fits a double,
    so the request is served, on a scored row and on a dropped one alike."""
    d = 16  # two float lanes' worth: the rows take the vector path, not the double tail
    emb = np.random.default_rng(1).normal(size=(N, d)).astype(np.float32)
    emb[3] = 1e37  # eligible: its score, about 1.6e40, ranks it first
    emb[6] = 1e37  # dropped as a duplicate of item 0
    ids = np.arange(N)
    ids[6] = 0
    u = user(embedding=np.full(d, 100.0, np.float32))
    result = ranker.rank(ranker.Candidates(**fields(embedding=emb, item_id=ids)), u, ranker.Policy(), backend=backend)
    assert result.drop_codes[6] == ranker.Drop.DUPLICATE
    assert result.indices[0] == 3
    assert 1e40 < result.scores[0] < 1e41
    assert 6 not in result.indices.tolist()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("personalized", [True, False])
def test_an_overflowing_score_refuses_only_when_the_item_is_eligible(backend, personalized):
    """Finite inputs whose weighted sum overflows double: refused for an eligible item, since
    ranking by inf would be meaningless; ignored for a dropped one, whose score is never used."""
    policy = ranker.Policy.from_dict({"weights": {"prior": 1e308}})
    prior = np.full(N, 0.5, np.float32)
    prior[5] = 4.0  # 4e308 overflows; 0.5e308 does not
    u = user() if personalized else user(personalized=False)
    with pytest.raises(ValueError, match=r"candidates\.embedding: the score of (item|candidate) 5 overflows"):
        ranker.rank(ranker.Candidates(**fields(prior=prior)), u, policy, backend=backend)
    ids = np.arange(N)
    ids[2] = 0  # item 2 repeats item 0's id: dropped as a duplicate, and overflowing too
    prior[2] = 4.0
    with pytest.raises(ValueError, match=r"the score of (item|candidate) 5 overflows"):  # not 2
        ranker.rank(ranker.Candidates(**fields(prior=prior, item_id=ids)), u, policy, backend=backend)
    ids[5] = 0  # item 5 as well: no eligible item overflows
    result = ranker.rank(ranker.Candidates(**fields(prior=prior, item_id=ids)), u, policy, backend=backend)
    assert result.drop_codes[2] == result.drop_codes[5] == ranker.Drop.DUPLICATE
    assert sorted(result.indices.tolist()) == [0, 1, 3, 4, 6, 7]


def test_compare_raises_on_its_own_bad_arguments_and_reports_refusals_it_agrees_on():
    cands = ranker.Candidates(**fields())
    for k, error in [(-1, ValueError), ("10", TypeError), (10.5, TypeError)]:
        with pytest.raises(error, match="^k: "):
            ranker.compare(cands, user(), STRICT, k=k)
    with pytest.raises(TypeError, match="^history: "):
        ranker.compare(cands, user(), STRICT, history=5)
    # A request both backends refuse at rank time is agreement, and says so.
    bad = ranker.Candidates(**fields(embedding=np.where(np.arange(N * D).reshape(N, D) == 4, np.nan, 1.0)))
    cmp = ranker.compare(bad, user(), STRICT)
    assert cmp.equivalent and cmp.error == "ValueError"
    assert "both refused: ValueError" in repr(cmp)
