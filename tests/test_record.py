"""Audit records (ranker.record.to_record): complete, JSON-serialisable, flags-only about the user."""

from __future__ import annotations

import datetime
import json

import numpy as np
import pytest
from hypothesis import given, settings

import ranker
from ranker import Drop, PinStatus, Reason, Status
from ranker.record import SCHEMA, to_record
from requests import examples, requests

PERSONAL_KEYS = {"embedding", "tags", "tag_ids", "tag_weights", "deleted_tags", "age", "seen", "local_minute",
                 "usage_minutes_today", "scores"}


def feed(n=30, d=3, seed=0):
    rng = np.random.default_rng(seed)
    return ranker.Candidates(
        item_id=np.arange(n) + 100, embedding=rng.normal(size=(n, d)).astype(np.float32),
        prior=rng.random(n).astype(np.float32), tags=[[i % 5] for i in range(n)],
        flags=np.where(np.arange(n) % 7 == 0, 1, 0).astype(np.uint32),
        min_age=np.where(np.arange(n) % 5 == 0, 18, 0).astype(np.uint8),
        offered_price=np.where(np.arange(n) % 4 == 0, 12.5, 10.0), reference_price=np.full(n, 10.0))


POLICY = ranker.Policy.from_dict({"k": 8, "weights": {"relevance": 1.0, "tag": 0.5, "prior": 0.1},
                                  "price": {"action": "clamp"}, "pins": [{"item_id": 103, "slot": 1},
                                                                         {"item_id": 7777, "slot": 3}]})


def walk_keys(obj):
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield key
            yield from walk_keys(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from walk_keys(value)


def test_record_describes_the_result():
    usr = ranker.User(embedding=[0.1, 0.2, 0.3], tags={1: 1.0}, elderly=True, age=70, seen=[105])
    res = ranker.rank(feed(), usr, POLICY, backend="reference")
    rec = to_record(res, request_id="req-42")
    text = json.dumps(rec, allow_nan=False)  # JSON-serialisable, no NaN
    assert json.loads(text) == rec
    assert rec["schema"] == SCHEMA
    assert rec["request_id"] == "req-42"
    assert rec["policy_hash"] == POLICY.hash == res.policy_hash
    assert rec["backend"] == "reference"
    assert rec["version"] == ranker.__version__
    assert rec["k"] == 8 and rec["status"] == "OK"
    assert rec["user"] == {"opted_out": False, "minor": False, "elderly": True}
    assert rec["candidates"] == 30
    assert rec["eligible"] == res.counts[Drop.ELIGIBLE]
    assert rec["drops"] == {rule.name: res.counts[rule] for rule in Drop if rule != Drop.ELIGIBLE}
    assert rec["drops"]["SEEN"] == 1 and rec["drops"]["BLOCKED"] == 5
    assert [it["item_id"] for it in rec["items"]] == res.item_ids.tolist()
    assert [it["reasons"] for it in rec["items"]] == res.reasons.tolist()
    assert [it["slot"] for it in rec["items"]] == list(range(len(res)))
    for it in rec["items"]:
        assert it["why"] == [r.name for r in Reason if it["reasons"] & r]
        if "PRICE_CLAMPED" in it["why"]:
            assert it["price"] == 10.0
    assert any("PRICE_CLAMPED" in it["why"] for it in rec["items"])
    assert rec["pins"] == [{"item_id": 103, "slot": 1, "status": "PLACED"},
                           {"item_id": 7777, "slot": 3, "status": "NOT_IN_CANDIDATES"}]
    assert rec["items"][1]["item_id"] == 103 and "EDITORIAL" in rec["items"][1]["why"]


def test_time_and_request_id():
    res = ranker.rank(feed(), ranker.User(embedding=[1, 0, 0]), POLICY, backend="reference")
    before = datetime.datetime.now(datetime.timezone.utc)
    a, b = to_record(res), to_record(res, request_id=17)
    after = datetime.datetime.now(datetime.timezone.utc)
    stamp = datetime.datetime.strptime(a["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    assert before - datetime.timedelta(milliseconds=1) <= stamp <= after
    assert a["request_id"] != to_record(res)["request_id"] and len(a["request_id"]) == 32  # generated, unique
    assert b["request_id"] == "17"
    assert res.to_record(request_id="x")["request_id"] == "x"


def test_record_holds_mode_flags_only():
    cands = feed()
    base = dict(personalized=False, minor_mode=True, local_minute=600, usage_minutes_today=5)
    a = ranker.User(embedding=[0.1, 0.2, 0.3], tags={1: 1.0, 2: 0.5}, deleted_tags=[3], age=12, **base)
    b = ranker.User(embedding=[-5.0, 2.0, 0.0], tags={4: 0.2}, deleted_tags=[], age=13, **base)
    ra, rb = (to_record(ranker.rank(cands, u, POLICY, backend="reference"), request_id="r") for u in (a, b))
    assert not PERSONAL_KEYS & set(walk_keys(ra))
    assert ra["user"] == {"opted_out": True, "minor": True, "elderly": False}
    ra.pop("time"), rb.pop("time")
    assert ra == rb  # opted out: nothing personal reaches the result or its record


def test_refused_request_record():
    usr = ranker.User(embedding=[0, 0, 1], minor_mode=True, age=None, local_minute=23 * 60, usage_minutes_today=0)
    rec = to_record(ranker.rank(feed(), usr, POLICY, backend="reference"))
    assert rec["status"] == Status.CURFEW.name
    assert rec["items"] == []
    assert rec["drops"]["MINOR_AGE"] == 5  # eligibility still computed for the record
    assert {p["status"] for p in rec["pins"]} == {PinStatus.NOT_SERVED.name}


@settings(max_examples=examples(50))
@given(req=requests(max_n=20))
def test_every_result_gives_a_strict_json_record(req):
    cands, usr, pol, k, history = req
    try:
        res = ranker.rank(cands, usr, pol, k, backend="reference", history=history)
    except ValueError:
        return
    rec = to_record(res)
    assert json.loads(json.dumps(rec, allow_nan=False)) == rec
    assert sum(rec["drops"].values()) + rec["eligible"] == cands.n
    assert len(rec["items"]) == len(res) and len(rec["pins"]) == len(pol.to_dict()["pins"])
    assert not PERSONAL_KEYS & set(walk_keys(rec))


def test_unknown_status_is_refused():
    res = ranker.rank(feed(), ranker.User(embedding=[1, 0, 0]), POLICY, backend="reference")
    res.status = 7
    with pytest.raises(ValueError):
        to_record(res)
