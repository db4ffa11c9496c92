"""Random requests for the property tests: small, dense in collisions (few categories, authors,
tags; repeated embeddings and priors so exact ties occur) and with every optional field and
policy key switched on and off, so that each rule and each interaction gets exercised."""

from __future__ import annotations

import os

import numpy as np
from hypothesis import strategies as st

import ranker

#: HYPOTHESIS_PROFILE=long runs every property test with this many times its usual examples
#: (each test names its own max_examples, which would otherwise override the profile's).
EXAMPLE_SCALE = 30 if os.environ.get("HYPOTHESIS_PROFILE") == "long" else 1


def examples(n: int) -> int:
    """A property test's example count, scaled up for the long run."""
    return n * EXAMPLE_SCALE


@st.composite
def requests(draw, max_n: int = 30, methods=("none", "mmr", "dpp"), with_history: bool = True):
    """(candidates, user, policy, k, history) with a valid shape; values may trigger any rule."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n = draw(st.integers(0, max_n))
    # 32 and 64 take the native scoring pass's fixed-width path; the others its general loop.
    d = draw(st.sampled_from([1, 2, 3, 5, 8, 32, 64]))
    # A few distinct embeddings and priors, repeated: exact ties between items are common.
    distinct = max(1, n // draw(st.sampled_from([1, 2, 4])))
    base = rng.normal(size=(distinct, d))
    if draw(st.booleans()):
        # Rows of very different norms: scores whose terms cancel, which only an accurate
        # scoring pass gets within the certificate's tolerance.
        base *= 10.0 ** rng.uniform(-3.0, 3.0, size=(distinct, 1))
    base = base.astype(np.float32)
    if draw(st.booleans()):
        base[0] = 0.0  # a zero vector: cosine is defined as 0
    emb = base[rng.integers(0, distinct, n)] if n else np.zeros((0, d), np.float32)
    prior = rng.choice(np.array([0.0, 0.25, 0.5, 1.0], np.float32), n) if n else np.zeros(0, np.float32)
    item_id = rng.integers(0, max(1, int(n * 1.1)), n) if draw(st.booleans()) else np.arange(n) * 7
    fields = {}
    if draw(st.booleans()):
        fields["category"] = rng.integers(0, 4, n)
    if draw(st.booleans()):
        fields["author"] = rng.integers(0, 6, n)
    if draw(st.booleans()):
        fields["tags"] = [rng.integers(0, 9, rng.integers(0, 4)).tolist() for _ in range(n)]
    if draw(st.booleans()):
        bits = np.array([0, 0, 0, 1, 2, 4, 4 | 8, 16, 16 | 2, 16 | 8 | 4], np.uint32)
        fields["flags"] = rng.choice(bits, n)
    if draw(st.booleans()):
        fields["min_age"] = rng.choice(np.array([0, 0, 12, 16, 18], np.uint8), n)
    if draw(st.booleans()):
        fields["fraud_risk"] = rng.choice(np.array([0.0, 0.2, 0.5, 0.8, 1.0], np.float32), n)
    if draw(st.booleans()):
        ref = rng.choice(np.array([10.0, 20.0, np.nan]), n)
        off = ref * rng.choice(np.array([1.0, 1.0, 1.01, 1.1, np.nan]), n)
        fields["offered_price"], fields["reference_price"] = off, ref
    cands = ranker.Candidates(item_id=item_id, embedding=emb, prior=prior, **fields)

    minor = draw(st.booleans()) and "min_age" in fields
    user = ranker.User(
        embedding=rng.normal(size=d).astype(np.float32),
        tags={int(t): float(w) for t, w in zip(rng.choice(9, rng.integers(0, 5), replace=False),
                                                  rng.choice([0.0, 0.5, 1.0, 2.0], 5))},
        personalized=draw(st.booleans()),
        deleted_tags=rng.integers(0, 9, rng.integers(0, 3)).tolist(),
        minor_mode=minor,
        age=draw(st.sampled_from([None, 10, 14, 17, 30])),
        elderly=draw(st.booleans()),
        local_minute=draw(st.sampled_from([None, 600, 21 * 60, 23 * 60])) if not minor else 600,
        usage_minutes_today=draw(st.sampled_from([None, 0, 30])) if not minor else draw(st.sampled_from([0, 30, 200])),
        seen=rng.choice(item_id, min(n, 2), replace=False).tolist() if n and draw(st.booleans()) else [],
    )

    has_cat, has_author = "category" in fields, "author" in fields
    k = draw(st.sampled_from([0, 1, 3, 5, 10, n, n + 1]))
    count = draw(st.integers(0, 3))
    pins = []
    for slot in sorted(set(rng.integers(0, max(1, k + 2), draw(st.integers(0, 2))).tolist())):
        pid = int(rng.choice(item_id)) if n and rng.random() < 0.8 else 10**6 + slot
        if pid not in [p["item_id"] for p in pins]:
            pins.append({"item_id": pid, "slot": slot})
    window = draw(st.integers(0, 4))
    relevance = draw(st.sampled_from([1.0, 0.0]))
    # Relevance and prior both 0 is refused (a slot could have no reason), so one of them is set.
    weights = {"relevance": relevance, "tag": draw(st.sampled_from([0.0, 0.5])),
               "prior": draw(st.sampled_from([0.0, 0.3] if relevance else [0.3]))}
    policy = ranker.Policy.from_dict({
        "k": k,
        "weights": weights,
        "tags": {"forbidden": rng.integers(0, 9, rng.integers(0, 2)).tolist(),
                 "deletion": draw(st.sampled_from(["ignore", "suppress"]))},
        "fraud": {"max_risk": draw(st.sampled_from([1.0, 0.8, 0.5])),
                  "elderly_max_risk": draw(st.sampled_from([1.0, 0.2]))},
        "price": {"action": draw(st.sampled_from(["drop", "clamp", "flag", "off"])),
                  "abs_tol": draw(st.sampled_from([0.0, 0.05])), "rel_tol": draw(st.sampled_from([0.0, 0.02]))},
        "key_slots": {"count": count, "featured_min": draw(st.integers(0, count))},
        "pins": pins,
        "diversity": {"method": draw(st.sampled_from(methods)), "lambda": draw(st.sampled_from([0.0, 0.3, 0.7, 1.0])),
                      "alpha": draw(st.sampled_from([0.5, 1.0, 3.0])), "candidates": draw(st.sampled_from([0, 0, 4, 8]))},
        "scatter": {"category_window": window if has_cat else 0, "category_max": draw(st.integers(1, 2)),
                    "author_window": draw(st.integers(0, 3)) if has_author else 0, "author_max": 1,
                    "category_share": draw(st.sampled_from([1.0, 0.5, 0.3])) if has_cat else 1.0},
    })
    history = None
    if with_history and draw(st.booleans()):
        h = draw(st.integers(0, 4))
        history = ranker.History(categories=rng.integers(0, 4, h) if has_cat else None,
                                 authors=rng.integers(0, 6, h) if has_author else None,
                                 embeddings=base[rng.integers(0, distinct, h)] if h else np.zeros((0, d), np.float32))
    return cands, user, policy, k, history
