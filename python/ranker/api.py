"""The public entry points: ``rank`` and ``rank_batch``.

``rank`` does as little as possible in Python: the inputs were normalised when their objects
were built, so the native path is one call into the compiled core (which validates values,
applies every rule and releases the GIL) and the wrapping of its arrays into a RankResult.
"""

from __future__ import annotations

import os
from typing import Any, Sequence, Union

import numpy as np

from . import reference
from ._backend import native_module
from ._convert import as_int
from .data import Candidates, History, User
from .policy import MAX_K, Policy
from .result import RankResult

BACKENDS = ("native", "reference")
HistoryLike = Union[History, RankResult, None]


def _check_types(candidates: Any, user: Any, policy: Any) -> None:
    if not isinstance(candidates, Candidates):
        raise TypeError(f"candidates: expected ranker.Candidates, got {type(candidates).__name__}")
    if not isinstance(user, User):
        raise TypeError(f"user: expected ranker.User, got {type(user).__name__}")
    if not isinstance(policy, Policy):
        raise TypeError(f"policy: expected ranker.Policy (Policy.from_toml / Policy.from_dict), "
                        f"got {type(policy).__name__}")


def _resolve_k(k: Any, policy: Policy) -> int:
    return policy.k if k is None else as_int(k, "k", minimum=0, maximum=MAX_K)


def as_history(history: HistoryLike) -> History | None:
    if history is None or isinstance(history, History):
        return history
    if isinstance(history, RankResult):
        return history.history
    raise TypeError(f"history: expected a RankResult of the previous page or a ranker.History, "
                    f"got {type(history).__name__}")


def _check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {BACKENDS}, got {backend!r}")


def rank(candidates: Candidates, user: User, policy: Policy, k: int | None = None, *,
         backend: str = "native", history: HistoryLike = None) -> RankResult:
    """Rank one request: the top ``k`` (default ``policy.k``) with every rule of the policy applied.

    ``history`` continues scatter windows (and the MMR penalty) from earlier pages: pass the
    previous page's RankResult or a :class:`ranker.History`. Raises ``ValueError``/``TypeError``
    naming the field for bad input; never returns a partly filtered result.
    """
    _check_types(candidates, user, policy)
    k = _resolve_k(k, policy)
    hist = as_history(history)
    if backend == "native":
        out = native_module().rank(candidates.native(), user.native(), policy.native(), k,
                                   None if hist is None else hist.native())
        return _wrap_native(out, "native", k, candidates, user, policy, hist)
    _check_backend(backend)
    outcome = reference.rank(reference_request(candidates, user, policy, k, hist))
    return wrap_reference(outcome, k, candidates, user, policy, hist)


def _wrap_native(out: tuple, backend: str, k: int, candidates: Candidates, user: User, policy: Policy,
                 hist: History | None) -> RankResult:
    status, indices, scores, reasons, prices, drop_codes, counts, pin_status = out
    return RankResult(status=status, indices=indices, scores=scores, reasons=reasons, prices=prices,
                      drop_codes=drop_codes, counts=counts, pin_status=pin_status, backend=backend, k=k,
                      candidates=candidates, user=user, policy=policy, history=hist)


def wrap_reference(outcome: reference.Outcome, k: int, candidates: Candidates, user: User, policy: Policy,
                   hist: History | None) -> RankResult:
    return RankResult(
        status=outcome.status,
        indices=np.asarray(outcome.indices, dtype=np.int64),
        scores=np.asarray(outcome.scores, dtype=np.float64),
        reasons=np.asarray(outcome.reasons, dtype=np.uint32),
        prices=np.asarray(outcome.prices, dtype=np.float64),
        drop_codes=np.asarray(outcome.drop_codes, dtype=np.uint8),
        counts=np.asarray(outcome.counts, dtype=np.int64),
        pin_status=np.asarray(outcome.pin_status, dtype=np.uint8),
        backend="reference", k=k, candidates=candidates, user=user, policy=policy, history=hist)


def _list_or_none(arr: np.ndarray | None) -> list | None:
    return None if arr is None else arr.tolist()


def reference_request(candidates: Candidates, user: User, policy: Policy, k: int,
                      history: History | None) -> reference.Request:
    """The request as plain Python values, for the standard-library-only reference."""
    c = candidates
    return reference.Request(
        item_id=c.item_id.tolist(), embedding=c.embedding.astype(np.float64).tolist(), d=c.d,
        prior=c.prior.astype(np.float64).tolist(), policy=policy.to_dict(), k=k,
        category=_list_or_none(c.category), author=_list_or_none(c.author),
        tag_indptr=_list_or_none(c.tag_indptr), tag_ids=_list_or_none(c.tag_ids),
        flags=_list_or_none(c.flags), min_age=_list_or_none(c.min_age),
        fraud_risk=None if c.fraud_risk is None else c.fraud_risk.astype(np.float64).tolist(),
        offered_price=_list_or_none(c.offered_price), reference_price=_list_or_none(c.reference_price),
        user_embedding=user.embedding.astype(np.float64).tolist(), user_tag_ids=user.tag_ids.tolist(),
        user_tag_weights=user.tag_weights.tolist(), personalized=user.personalized,
        deleted_tags=user.deleted_tags.tolist(), minor_mode=user.minor_mode, age=user.age, elderly=user.elderly,
        local_minute=user.local_minute, usage_minutes_today=user.usage_minutes_today, seen=user.seen.tolist(),
        history_categories=None if history is None else _list_or_none(history.categories),
        history_authors=None if history is None else _list_or_none(history.authors),
        history_embeddings=(None if history is None or history.embeddings is None
                            else history.embeddings.astype(np.float64).tolist()),
    )


def _unpack(request: Any, position: int) -> tuple[Candidates, User, History | None]:
    if not isinstance(request, (tuple, list)) or len(request) not in (2, 3):
        raise TypeError(f"requests[{position}]: expected (candidates, user) or (candidates, user, history)")
    candidates, user = request[0], request[1]
    try:
        hist = as_history(request[2]) if len(request) == 3 else None
    except TypeError as exc:
        raise TypeError(f"requests[{position}]: {exc}") from None
    if not isinstance(candidates, Candidates) or not isinstance(user, User):
        raise TypeError(f"requests[{position}]: expected (ranker.Candidates, ranker.User[, history])")
    return candidates, user, hist


def rank_batch(requests: Sequence[Any], policy: Policy, k: int | None = None, *, threads: int | None = 1,
               backend: str = "native") -> list[RankResult]:
    """Rank many requests under one policy, on ``threads`` native threads (``None`` = all cores).

    Results come back in request order. If any request is invalid, the whole batch raises
    (naming the request), so no caller can serve a batch that was only partly checked.
    """
    if not isinstance(policy, Policy):
        raise TypeError(f"policy: expected ranker.Policy, got {type(policy).__name__}")
    k = _resolve_k(k, policy)
    threads = (os.cpu_count() or 1) if threads is None else as_int(threads, "threads", minimum=1, maximum=1024)
    unpacked = [_unpack(r, n) for n, r in enumerate(requests)]
    if backend == "native":
        native = [(c.native(), u.native(), None if h is None else h.native()) for c, u, h in unpacked]
        outs = native_module().rank_batch(native, policy.native(), k, threads)
        return [_wrap_native(out, "native", k, c, u, policy, h) for out, (c, u, h) in zip(outs, unpacked)]
    _check_backend(backend)
    results = []
    for n, (c, u, h) in enumerate(unpacked):
        try:
            results.append(rank(c, u, policy, k, backend="reference", history=h))
        except (ValueError, TypeError) as exc:
            raise type(exc)(f"request {n}: {exc}") from None
    return results


__all__ = ["rank", "rank_batch"]
