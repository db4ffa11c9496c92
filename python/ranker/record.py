"""Audit records of ranking results (Article 28).

``to_record(res)`` turns a :class:`ranker.RankResult` into a plain, JSON-serialisable dict: when,
which request, which policy (its hash) and which code (backend, package version) produced it, the
user's mode flags, what was shown and why (item ids with reason bits), what was removed (counts
per drop rule), what happened to editorial pins, and the status.

Data minimisation: the record holds the user's mode flags only (opted out, minor mode, elderly).
No embedding, no interest or deleted tags, no age, no seen list, no scores.
"""

from __future__ import annotations

import datetime as _dt
import uuid
from typing import Any, Optional

import numpy as np

from .enums import Drop, PinStatus, Reason, Status

#: Bumped when a field changes meaning; readers check it.
SCHEMA = "ranker.record/1"

_REASON_NAMES: dict[int, list[str]] = {}


def reason_names(bits: int) -> list[str]:
    """The names of the Reason bits set in ``bits``, lowest bit first (cached)."""
    names = _REASON_NAMES.get(bits)
    if names is None:
        names = [r.name for r in Reason if bits & r]
        unknown = bits & ~sum(int(r) for r in Reason)
        if unknown:
            names.append(f"0x{unknown:x}")
        if len(_REASON_NAMES) < 4096:
            _REASON_NAMES[bits] = names
    return list(names)


_VERSION: str | None = None


def package_version() -> str:
    """``ranker.__version__``, else the installed distribution's version, else ``"unknown"``."""
    global _VERSION
    if _VERSION is None:
        version = None
        try:
            import ranker

            version = getattr(ranker, "__version__", None)
        except Exception:  # pragma: no cover - only while the package is half-imported
            version = None
        if not version:
            try:
                from importlib.metadata import version as _dist_version

                version = _dist_version("ranker")
            except Exception:
                version = "unknown"
        _VERSION = str(version)
    return _VERSION


def utc_now() -> str:
    """The current time as ISO 8601 UTC with milliseconds, e.g. ``2025-03-01T08:15:02.117Z``."""
    now = _dt.datetime.now(_dt.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


_DROPS = [(rule, rule.name) for rule in Drop]


def _counts(counts: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for rule, name in _DROPS:
        value = counts[rule] if rule in counts else counts.get(name, 0)
        out[name] = int(value)
    return out


class Capture:
    """What a record needs from a result, taken in a few microseconds: references to the result's
    own arrays (never to the caller's), the user's three mode flags, the time and the request id.
    :class:`ranker.audit.AuditLog` takes one on the caller's thread and builds the record on its
    writer thread, so the request path pays for the capture only."""

    __slots__ = ("time", "request_id", "policy_hash", "backend", "k", "status", "flags", "n", "counts",
                 "item_ids", "reasons", "prices", "pin_status", "policy")

    def __init__(self, res: Any, request_id: Any = None, time: Optional[str] = None) -> None:
        user = res.user
        self.time = utc_now() if time is None else str(time)
        self.request_id = uuid.uuid4().hex if request_id is None else str(request_id)
        self.policy_hash = str(res.policy_hash)
        self.backend = str(res.backend)
        self.k = int(res.k)
        self.status = Status(int(res.status))
        self.flags = (not bool(user.personalized), bool(user.minor_mode), bool(user.elderly))
        self.n = int(res.candidates.n)
        self.counts = res.counts
        self.item_ids = res.item_ids  # the result's own array (indexing copies the caller's ids)
        self.reasons = res.reasons
        prices = getattr(res, "prices", None)
        self.prices = prices if prices is not None else np.full(len(self.item_ids), np.nan)
        self.pin_status = list(res.pin_status)
        self.policy = res.policy

    def record(self) -> dict[str, Any]:
        counts = _counts(self.counts)
        items = []
        for slot, (item, bits, price) in enumerate(zip(self.item_ids.tolist(), self.reasons.tolist(),
                                                       self.prices.tolist())):
            entry: dict[str, Any] = {"slot": slot, "item_id": item, "reasons": bits, "why": reason_names(bits)}
            if price == price:  # not NaN
                entry["price"] = price
            items.append(entry)
        pins = []
        policy_pins = self.policy.to_dict()["pins"] if self.pin_status else []
        for pin, ps in zip(policy_pins, self.pin_status):
            pins.append({"item_id": int(pin["item_id"]), "slot": int(pin["slot"]),
                         "status": PinStatus(int(ps)).name})
        opted_out, minor, elderly = self.flags
        return {
            "schema": SCHEMA,
            "time": self.time,
            "request_id": self.request_id,
            "policy_hash": self.policy_hash,
            "backend": self.backend,
            "version": package_version(),
            "k": self.k,
            "status": self.status.name,
            "user": {"opted_out": opted_out, "minor": minor, "elderly": elderly},
            "candidates": self.n,
            "eligible": counts.pop(Drop.ELIGIBLE.name),
            "drops": counts,
            "items": items,
            "pins": pins,
        }


def to_record(res: Any, request_id: Any = None, *, time: Optional[str] = None) -> dict[str, Any]:
    """A JSON-serialisable audit record of ``res``.

    ``request_id`` is stored as a string; when it is None a random one (uuid4 hex) is made so that
    every record can be referred to. ``time`` defaults to now (ISO 8601 UTC). Keys::

        schema, time, request_id, policy_hash, backend, version, k, status,
        user {opted_out, minor, elderly}, candidates (n), eligible,
        drops {RULE: count, for the 9 rules}, items [{slot, item_id, reasons, why[, price]}],
        pins [{item_id, slot, status}]

    ``reasons`` is the Reason bitmask as an int, ``why`` its bit names; ``price`` is the price shown
    (present only when the item has one).
    """
    return Capture(res, request_id, time).record()


__all__ = ["Capture", "SCHEMA", "package_version", "reason_names", "to_record", "utc_now"]
