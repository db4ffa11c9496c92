"""Reference vs native: the certificate rule of DESIGN.md.

Drop codes, counts, status and pin statuses must match exactly. The selected sequence is not
only diffed: the native choices are replayed through the reference's own selection state
(``reference.Selector``), and at every slot the native item must be allowed, carry the same
relaxation and DPP-exhaustion decisions, and have an objective within a small tolerance of the
best allowed objective. A different item within tolerance is a *tie* (floating-point rounding
decided it); anything else is a *divergence* (a bug on one side).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import reference
from .api import HistoryLike, _check_types, _resolve_k, as_history, rank, reference_request
from .data import Candidates, User
from .enums import Drop, PinStatus, Status
from .policy import Policy
from .record import reason_names
from .result import RankResult

#: Objectives (score, MMR gain) may differ by float rounding up to this, relative to 1 + |best|.
OBJECTIVE_RTOL = 1e-5
#: DPP gains are compared on log(d2): relative rounding in the incremental Cholesky state.
DPP_LOG_TOL = 1e-4
#: Where DPP gains sit this close to EPS, switching to score fill or not is a floating-point tie.
DPP_SWITCH_ATOL = 1e-9
#: Scores themselves may differ by float32 vs double accumulation.
SCORE_RTOL = 1e-5


@dataclass
class Comparison:
    """``equivalent`` is True when there is no divergence (ties are fine)."""

    equivalent: bool
    ties: list = field(default_factory=list)
    divergences: list = field(default_factory=list)
    reference: RankResult | None = None
    native: RankResult | None = None
    identical: bool = False       # the two selected sequences are the same item for item
    error: str | None = None      # both sides refused the request with this exception class

    def __repr__(self) -> str:
        if self.error:
            return f"Comparison(equivalent={self.equivalent}, both refused: {self.error})"
        return (f"Comparison(equivalent={self.equivalent}, identical={self.identical}, ties={len(self.ties)}, "
                f"divergences={len(self.divergences)})")

    def summary(self) -> str:
        if self.error:
            return f"both backends refused the request ({self.error})"
        word = "equivalent" if self.equivalent else "NOT equivalent"
        text = f"{word}: {len(self.ties)} tie(s), {len(self.divergences)} divergence(s)"
        if self.identical:
            text += ", identical sequences"
        return text


def _objective_gap(best: float, chosen: float, dpp: bool) -> tuple[float, bool]:
    """(gap, within tolerance) between the best allowed objective and the chosen item's."""
    if dpp:
        gap = math.log(max(best, 1e-300)) - math.log(max(chosen, 1e-300))
        return gap, gap <= DPP_LOG_TOL
    gap = best - chosen
    return gap, gap <= OBJECTIVE_RTOL * (1.0 + abs(best))


def _score_tolerance(score: float) -> float:
    return SCORE_RTOL * (1.0 + abs(score))


def _truncation_swap(native_items: list, selector: reference.Selector, scores: dict, limit: int):
    """The pool the native result was drawn from, when it differs from the reference's only by a
    tie at the truncation boundary: ``(pool, tie)``, else None.

    With ``diversity.candidates = M``, which items make the best M is decided by scores, and
    scores differ by float rounding: an item whose score ties the M-th within SCORE_RTOL may be in
    one backend's pool and not the other's. The native items outside the reference pool (X) then
    replace as many reference pool items the native result did not select (Y, the lowest ranked),
    provided every item of X ties every item of Y. Anything else is left to the replay, which
    reports it.
    """
    if limit <= 0:
        return None
    outside = [i for i in dict.fromkeys(native_items)
               if i not in selector.pool and i in scores and i not in selector.pinned_items]
    if not outside:
        return None
    chosen = set(native_items)
    leaving = sorted((i for i in selector.pool if i not in chosen), key=lambda i: (scores[i], -i))[:len(outside)]
    if len(leaving) < len(outside):
        return None
    lowest_in = min(scores[i] for i in outside)
    highest_out = max(scores[i] for i in leaving)
    gap = highest_out - lowest_in
    if gap > _score_tolerance(highest_out):
        return None
    pool = (selector.pool - set(leaving)) | set(outside)
    return pool, {"kind": "truncation", "native_pool_adds": outside, "native_pool_drops": leaving, "gap": gap}


def _enum_name(enum: Any, value: int) -> str:
    try:
        return enum(value).name
    except ValueError:
        return str(value)


def _reason_text(bits: int) -> str:
    return "|".join(reason_names(bits)) or "0"


def _shape_problems(result: RankResult, candidates: Candidates, policy: Policy, k: int) -> list[str]:
    """What makes ``result`` not a result of this request at all, before any replay."""
    problems = []
    if result.k != k:
        problems.append(f"the result was ranked for k = {result.k}, the check is for k = {k} "
                        f"(pass k=None to check at the result's own k)")
    if result.policy_hash != policy.hash:
        problems.append(f"the result carries policy hash {result.policy_hash[:16]}, this policy hashes to "
                        f"{policy.hash[:16]}: it was ranked under another policy")
    indices = np.asarray(result.indices).tolist()
    slots = len(indices)
    for name in ("scores", "reasons", "prices"):
        length = len(np.asarray(getattr(result, name)))
        if length != slots:
            problems.append(f"the result has {slots} slots but {length} {name}")
    n = candidates.n
    outside = [i for i in indices if not 0 <= i < n]
    if outside:
        problems.append(f"indices {outside[:5]} are not candidates (n = {n})")
    elif len(set(indices)) != slots:
        twice = sorted({i for i in indices if indices.count(i) > 1})
        problems.append(f"candidates {twice[:5]} fill more than one slot")
    elif result.candidates is not candidates:
        carried = result.candidates.item_id
        picked = np.asarray(indices, dtype=np.int64)
        if len(carried) != n or not np.array_equal(carried[picked], candidates.item_id[picked]):
            problems.append("the result carries other candidates: its item ids are not these candidates' ids")
    return problems


def _why_not_allowed(item: int, slot: int, selector: reference.Selector, drop_codes: list, placed: list) -> str:
    """Why the reference allows no ``item`` at ``slot`` (in the order the pipeline would say it)."""
    if item in placed:
        return "it already fills an earlier slot"
    if drop_codes[item] != reference.ELIGIBLE:
        return f"it was dropped ({_enum_name(Drop, drop_codes[item])})"
    if item in selector.pinned_items:
        return "it is pinned to another slot"
    if item not in selector.pool:
        return "it is not among the best diversity.candidates items"
    if slot < selector.key_count and selector.flags[item] & reference.HARMFUL:
        return "it is HARMFUL and this is a key slot"
    return "the featured quota or a scatter window or share cap forbids it here"


def certify(result: RankResult, candidates: Candidates, user: User, policy: Policy, k: int | None = None,
            history: HistoryLike = None) -> Comparison:
    """Check a given result (normally the native one) against the reference by the certificate rule.

    ``k`` defaults to the result's own k; ``history`` must be the one the result was ranked with.
    Beyond the replay, the result must belong to this request: its k, its policy hash, per-slot
    arrays of one length, valid distinct indices and the item ids of those indices.
    """
    k = result.k if k is None else k
    hist = as_history(history)
    req = reference_request(candidates, user, policy, k, hist)
    divergences: list = []
    ties: list = []
    try:
        reference.validate(req)
    except ValueError as exc:
        return Comparison(False, divergences=[f"the reference refuses the request ({exc}) but a result exists"],
                          native=result)
    problems = _shape_problems(result, candidates, policy, k)
    if problems:
        return Comparison(False, divergences=problems, native=result)

    def name(i: int) -> str:
        return f"candidate {i} (item_id {req.item_id[i]})"

    drop_codes = reference.eligibility(req)
    native_drops = np.asarray(result.drop_codes).tolist()
    if native_drops != drop_codes:
        if len(native_drops) != len(drop_codes):
            divergences.append(f"the result has {len(native_drops)} drop codes for {len(drop_codes)} candidates")
        else:
            bad = [i for i, (a, b) in enumerate(zip(native_drops, drop_codes)) if a != b]
            divergences.append("drop codes differ: " + ", ".join(
                f"{name(i)} {_enum_name(Drop, native_drops[i])} vs reference {_enum_name(Drop, drop_codes[i])}"
                for i in bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else ""))
    counts = [drop_codes.count(c) for c in range(reference.N_DROP_CODES)]
    if np.asarray(result._counts).tolist() != counts:
        divergences.append(f"counts differ: {np.asarray(result._counts).tolist()} vs reference {counts}")
    status = reference.request_gate(req)
    if int(result.status) != status:
        divergences.append(f"status differs: {result.status.name} vs reference {_enum_name(Status, status)}")
    if status != reference.STATUS_OK or int(result.status) != reference.STATUS_OK:
        if len(result) != 0:
            divergences.append("a refused request (curfew/daily limit) returned slots")
        expected_pins = [reference.PIN_NOT_SERVED] * len(req.policy["pins"])
        if np.asarray(result._pin_status).tolist() != expected_pins:
            divergences.append("pin statuses differ on a refused request")
        return Comparison(not divergences, ties, divergences, native=result)
    if divergences:
        return Comparison(False, ties, divergences, native=result)

    scores = reference.compute_scores(req, drop_codes)
    selector = reference.Selector(req, drop_codes, scores)
    native_items = np.asarray(result.indices).tolist()
    swap = _truncation_swap(native_items, selector, scores, req.policy["diversity"]["candidates"])
    if swap is not None:
        pool, tie = swap
        selector = reference.Selector(req, drop_codes, scores, pool=pool)
        ties.append(tie)
    native_reasons = np.asarray(result.reasons).tolist()
    dpp = req.policy["diversity"]["method"] == "dpp"
    for slot, item in enumerate(native_items):
        if selector.done:
            divergences.append(f"slot {slot}: the native result has more slots than the reference allows")
            break
        opts = selector.options()
        if opts.ended:
            divergences.append(f"slot {slot}: the native result places {name(item)} where no item is allowed")
            break
        if opts.pinned:
            if item != opts.best:
                divergences.append(f"slot {slot}: pinned {name(opts.best)} expected, native placed {name(item)}")
                break
            selector.place(item, opts)
            continue
        if item not in opts.ok:
            why = _why_not_allowed(item, slot, selector, drop_codes, native_items[:slot])
            divergences.append(f"slot {slot}: native {name(item)} is not allowed here: {why}")
            break
        native_relaxed = bool(native_reasons[slot] & reference.R_SCATTER_RELAXED)
        if native_relaxed != opts.relaxed:
            divergences.append(f"slot {slot}: scatter relaxation differs (native {native_relaxed}, "
                               f"reference {opts.relaxed})")
        native_fill = bool(native_reasons[slot] & reference.R_SCORE_FILL)
        objective = opts.objective
        if dpp and native_fill != opts.score_fill:
            best_gain = max(selector.d2[i] for i in opts.ok)
            if selector.dpp_exhausted or abs(best_gain - reference.DPP_EPS) > DPP_SWITCH_ATOL:
                divergences.append(f"slot {slot}: DPP score-fill switch differs (native {native_fill}, "
                                   f"reference {opts.score_fill}, best gain {best_gain:.3g})")
                break
            ties.append({"slot": slot, "kind": "dpp-switch", "best_gain": best_gain})
            objective = selector.objective_values(opts.ok, native_fill)
        best = max(opts.ok, key=lambda i: (objective[i], -i))
        gap, within = _objective_gap(objective[best], objective[item], dpp and not native_fill)
        if item != best:
            if within:
                ties.append({"slot": slot, "native": item, "reference": best, "gap": gap})
            else:
                divergences.append(f"slot {slot}: native {name(item)} has objective {objective[item]!r}, "
                                   f"the best allowed is {name(best)} with {objective[best]!r} (gap {gap:.3g})")
                break
        selector.place(item, opts, force_score_fill=native_fill if dpp else None)
    else:
        if not selector.done:
            opts = selector.options()
            if not opts.ended:
                divergences.append(f"slot {len(native_items)}: the native result ends, but the reference "
                                   f"can still fill this slot")
            else:
                selector.end()
    if divergences:
        return Comparison(False, ties, divergences, native=result)

    replay = selector.outcome(drop_codes, counts)
    native_pins = np.asarray(result._pin_status).tolist()
    if len(native_pins) != len(replay.pin_status):
        divergences.append(f"the result has {len(native_pins)} pin statuses for {len(replay.pin_status)} pins")
    for p, (a, b) in enumerate(zip(native_pins, replay.pin_status)):
        if a != b:
            pin = req.policy["pins"][p]
            divergences.append(f"pin {p} (item_id {pin['item_id']} at slot {pin['slot']}): "
                               f"{_enum_name(PinStatus, a)} vs reference {_enum_name(PinStatus, b)}")
    for slot, (a, b) in enumerate(zip(native_reasons, replay.reasons)):
        if a != b:
            divergences.append(f"slot {slot}: reasons {_reason_text(a)} vs reference {_reason_text(b)}")
    native_prices = np.asarray(result.prices).tolist()
    for slot, (a, b) in enumerate(zip(native_prices, replay.prices)):
        if not (a == b or (math.isnan(a) and math.isnan(b))):
            divergences.append(f"slot {slot}: price {a} vs reference {b}")
    for slot, (a, b) in enumerate(zip(np.asarray(result.scores).tolist(), replay.scores)):
        if not abs(a - b) <= _score_tolerance(b):  # NaN fails too
            divergences.append(f"slot {slot}: score {a} vs reference {b}")
    return Comparison(not divergences, ties, divergences, native=result)


def compare(candidates: Candidates, user: User, policy: Policy, k: int | None = None, *,
            history: HistoryLike = None) -> Comparison:
    """Run both backends on one request and check the native result by the certificate rule.

    When both refuse the request with the same exception class, that is agreement
    (``equivalent=True``, ``error`` set); one refusing and the other serving is a divergence.
    The arguments of ``compare`` itself (the object types, ``k``, ``history``) are checked
    first and raise: a mistyped call is not a request the backends agree on.
    """
    _check_types(candidates, user, policy)
    k = _resolve_k(k, policy)
    as_history(history)
    errors: dict[str, BaseException] = {}
    results: dict[str, Any] = {}
    for backend in ("reference", "native"):
        try:
            results[backend] = rank(candidates, user, policy, k, backend=backend, history=history)
        except (ValueError, TypeError) as exc:
            errors[backend] = exc
    if errors:
        if set(errors) == {"reference", "native"} and type(errors["reference"]) is type(errors["native"]):
            return Comparison(True, error=type(errors["native"]).__name__)
        detail = "; ".join(f"{b} raised {type(e).__name__}: {e}" for b, e in errors.items())
        return Comparison(False, divergences=[f"the backends disagree on refusing the request: {detail}"],
                          reference=results.get("reference"), native=results.get("native"))
    native, ref = results["native"], results["reference"]
    cmp = certify(native, candidates, user, policy, native.k, history)
    cmp.reference = ref
    cmp.identical = np.array_equal(native.indices, ref.indices)
    return cmp


__all__ = ["Comparison", "certify", "compare"]
