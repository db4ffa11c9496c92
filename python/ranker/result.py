"""The result of one request, and the history it hands to the next page."""

from __future__ import annotations

from typing import Any

import numpy as np

from .data import Candidates, History, User
from .enums import Drop, PinStatus, Reason, Status

_DROPS = tuple(Drop)
_STATUSES = tuple(Status)
_PIN_STATUSES = tuple(PinStatus)


class RankResult:
    """Slots in order (``indices``, ``item_ids``, ``scores``, ``reasons``, ``prices``), one drop code
    per candidate, counts per rule, the status, what happened to each pin, and the records a
    compliance check needs (``policy_hash``, ``backend``).

    ``reasons`` holds :class:`ranker.Reason` bits; ``prices`` is NaN where the item has no price and
    the reference price where the policy clamped it. The request's candidates, user and policy
    are kept by reference for :meth:`explain` and :meth:`to_record`.
    """

    __slots__ = (
        "indices", "scores", "reasons", "prices", "drop_codes", "status", "policy_hash", "backend", "k",
        "candidates", "user", "policy", "_counts", "_pin_status", "_history_before", "_item_ids",
    )

    def __init__(self, *, status: int, indices: Any, scores: Any, reasons: Any, prices: Any, drop_codes: Any,
                 counts: Any, pin_status: Any, backend: str, k: int, candidates: Candidates, user: User,
                 policy: Any, history: History | None) -> None:
        self.status = _STATUSES[status]
        self.indices = indices
        self.scores = scores
        self.reasons = reasons
        self.prices = prices
        self.drop_codes = drop_codes
        self._counts = counts
        self._pin_status = pin_status
        self.backend = backend
        self.k = k
        self.candidates = candidates
        self.user = user
        self.policy = policy
        self.policy_hash = policy.hash
        self._history_before = history
        self._item_ids = None

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    @property
    def item_ids(self) -> np.ndarray:
        if self._item_ids is None:
            self._item_ids = self.candidates.item_id[self.indices]
        return self._item_ids

    @property
    def counts(self) -> dict[Drop, int]:
        """Candidates per drop code; ``counts[Drop.ELIGIBLE]`` is the number that survived step 1."""
        return dict(zip(_DROPS, np.asarray(self._counts).tolist()))

    @property
    def pin_status(self) -> list[PinStatus]:
        return [_PIN_STATUSES[s] for s in np.asarray(self._pin_status).tolist()]

    @property
    def history(self) -> History:
        """What the user has now been shown (earlier pages, then this one): pass it, or this result,
        as ``history=`` to rank the next page."""
        c = self.candidates
        before = self._history_before if self._history_before is not None else History()
        pick = self.indices
        return before.extended(
            None if c.category is None else c.category[pick],
            None if c.author is None else c.author[pick],
            c.embedding[pick],
        )

    def reasons_of(self, slot: int) -> Reason:
        return Reason(int(self.reasons[slot]))

    def explain(self, slot: int, lang: str = "en") -> str:
        """A short plain-language reason for the item in ``slot`` (see ranker.explain)."""
        from .explain import explain

        return explain(self, slot, lang=lang)

    def explain_drops(self, lang: str = "en") -> str:
        """Per rule, how many candidates were removed and why (see ranker.explain)."""
        from .explain import explain_drops

        return explain_drops(self, lang=lang)

    def to_record(self, request_id: Any = None) -> dict:
        """A JSON-serialisable audit record of this request (see ranker.record)."""
        from .record import to_record

        return to_record(self, request_id=request_id)

    def __repr__(self) -> str:
        return (f"RankResult(status={self.status.name}, slots={len(self)}, k={self.k}, backend={self.backend!r}, "
                f"policy={self.policy_hash[:12]})")
