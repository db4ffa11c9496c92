"""Every row of the DESIGN rule table as a check on one result. ``check_result`` is applied to
every result the property tests produce, on both backends, so a rule that breaks anywhere fails."""

from __future__ import annotations

import math

import numpy as np

from ranker import Drop, Flag, PinStatus, Reason, Status


def _flags(c, i):
    return int(c.flags[i]) if c.flags is not None else 0


def violates_parity(c, policy, i):
    if c.offered_price is None:
        return False
    o, r = float(c.offered_price[i]), float(c.reference_price[i])
    if math.isnan(o) or math.isnan(r):
        return False
    p = policy["price"]
    return abs(o - r) > p["abs_tol"] + p["rel_tol"] * abs(r)


def check_result(res, history=None) -> None:
    c, u, policy = res.candidates, res.user, res.policy
    idx = res.indices.tolist()
    n = c.n
    # Art. 28: records.
    assert res.policy_hash == policy.hash and res.backend in ("native", "reference")
    # Art. 16/17: every drop has a rule, counts add up, every slot has a reason.
    assert res.drop_codes.shape == (n,)
    assert sum(res.counts.values()) == n
    for code, count in res.counts.items():
        assert int(np.sum(res.drop_codes == code)) == count
    assert len(idx) <= res.k and len(set(idx)) == len(idx)
    if res.status != Status.OK:
        assert len(idx) == 0
        return
    for slot, i in enumerate(idx):
        assert res.drop_codes[i] == Drop.ELIGIBLE, "a dropped item was served"
        r = int(res.reasons[slot])
        assert r != 0, f"slot {slot} has no reason"  # Art. 16/17
        f = _flags(c, i)
        # Art. 9
        assert not f & Flag.BLOCKED
        assert not (f & Flag.SYNTHETIC and not f & Flag.SYNTHETIC_LABELED)
        # Art. 18
        if u.minor_mode or u.age is not None:
            age = u.age if u.age is not None else 0
            assert c.min_age is None or c.min_age[i] <= age
        if u.minor_mode:
            assert not f & Flag.HARMFUL
        # Art. 19
        thr = policy["fraud"]["max_risk"]
        if u.elderly:
            thr = min(thr, policy["fraud"]["elderly_max_risk"])
        if thr < 1.0:
            assert c.fraud_risk[i] <= thr
        # Art. 21
        action = policy["price"]["action"]
        if action == "drop":
            assert not violates_parity(c, policy, i)
        if action == "clamp" and violates_parity(c, policy, i):
            assert res.prices[slot] == c.reference_price[i] and r & Reason.PRICE_CLAMPED
        if action == "flag" and violates_parity(c, policy, i):
            assert r & Reason.PRICE_FLAGGED
        # Art. 17: suppression of deleted tags
        if u.personalized and policy["tags"]["deletion"] == "suppress" and c.tag_indptr is not None:
            assert not set(c.tags_of(i)) & set(u.deleted_tags.tolist())
        if not u.personalized:
            assert r & Reason.NON_PERSONALIZED and not r & (Reason.PERSONAL | Reason.TAG_MATCH)
        # Art. 11: no HARMFUL in key slots
        if slot < policy["key_slots"]["count"]:
            assert not f & Flag.HARMFUL
    # Art. 11: pins in their slots
    for pin, status in zip(policy["pins"], res.pin_status):
        if status == PinStatus.PLACED:
            assert c.item_id[idx[pin["slot"]]] == pin["item_id"]
            assert int(res.reasons[pin["slot"]]) & Reason.EDITORIAL
        else:
            assert pin["item_id"] not in res.item_ids.tolist()
    _check_featured_quota(res, idx)
    _check_scatter(res, idx, history)


def _check_featured_quota(res, idx):
    policy, c = res.policy, res.candidates
    count, need = min(policy["key_slots"]["count"], res.k), policy["key_slots"]["featured_min"]
    if need == 0 or len(idx) < count:
        return
    placed_pins = {p["slot"]: p["item_id"] for p, s in zip(policy["pins"], res.pin_status) if s == PinStatus.PLACED}
    plain_pins = sum(1 for s, item in placed_pins.items()
                     if s < count and not _flags(c, int(np.flatnonzero(c.item_id == item)[0])) & Flag.FEATURED)
    need = min(need, count - plain_pins)   # a non-featured pin in a key slot takes a place the quota cannot use
    shown = sum(1 for i in idx[:count] if _flags(c, i) & Flag.FEATURED)
    if shown >= need:
        return
    # The quota may only be missed when no further featured item could have taken a key slot.
    spare = [i for i in range(c.n) if res.drop_codes[i] == Drop.ELIGIBLE and _flags(c, i) & Flag.FEATURED
             and not _flags(c, i) & Flag.HARMFUL and i not in idx[:count]
             and c.item_id[i] not in [p["item_id"] for p in policy["pins"]]]
    if policy["diversity"]["candidates"] == 0:
        assert not spare, "featured quota missed although featured items were available"


def _check_scatter(res, idx, history):
    policy, c = res.policy, res.candidates
    sc = policy["scatter"]
    relaxed = [bool(int(r) & Reason.SCATTER_RELAXED) for r in res.reasons]
    pinned = {p["slot"] for p, s in zip(policy["pins"], res.pin_status) if s == PinStatus.PLACED}
    for attr, hist_attr, w, m in (("category", "categories", sc["category_window"], sc["category_max"]),
                                  ("author", "authors", sc["author_window"], sc["author_max"])):
        if w == 0:
            continue
        values = getattr(c, attr)
        hist = [] if history is None or getattr(history, hist_attr) is None else getattr(history, hist_attr).tolist()
        seq = hist + [int(values[i]) for i in idx]
        offset = len(hist)
        # A window may exceed its cap only because of a relaxed slot or a pin placed into it.
        for start in range(0, len(seq)):
            window = range(start, min(start + w, len(seq)))
            for v in set(seq[s] for s in window):
                same = [s for s in window if seq[s] == v]
                if len(same) > m and max(same) >= offset:
                    excused = any(s >= offset and (relaxed[s - offset] or (s - offset) in pinned) for s in same)
                    assert excused, f"{attr} window cap broken at page slots {[s - offset for s in same]}"
    if sc["category_share"] < 1.0:
        cap = max(1, math.floor(sc["category_share"] * res.k + 1e-9))
        cats = [int(c.category[i]) for i in idx]
        for v in set(cats):
            slots = [s for s, x in enumerate(cats) if x == v]
            if len(slots) > cap:
                assert any(relaxed[s] or s in pinned for s in slots), "category share cap broken"
