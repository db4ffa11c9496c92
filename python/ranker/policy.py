"""The ranking policy: every rule's parameters, validated once, immutable, hashed.

A policy is the TOML shape of DESIGN.md. ``Policy.from_dict`` and ``Policy.from_toml`` take the
same shape; every key has a default, and a key that does not exist is refused (a typo in a policy
file must never silently fall back to a default). The SHA-256 of the normalised policy goes into
every result, so a record always says which rules were in force.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ._convert import as_float, as_int
from .enums import Method, PriceAction

#: Largest k accepted: far above any feed page, low enough that a typo cannot ask for a huge allocation.
MAX_K = 100_000

DEFAULTS: dict[str, Any] = {
    "k": 50,
    "weights": {"relevance": 1.0, "tag": 0.0, "prior": 0.0},
    "tags": {"forbidden": [], "deletion": "ignore"},
    "minor": {"curfew_start": "22:00", "curfew_end": "06:00", "daily_minutes": {"8": 40, "16": 60, "18": 120}},
    "fraud": {"max_risk": 1.0, "elderly_max_risk": 1.0},
    "price": {"action": "drop", "abs_tol": 0.0, "rel_tol": 0.0},
    "key_slots": {"count": 0, "featured_min": 0},
    "pins": [],
    "diversity": {"method": "none", "lambda": 0.7, "alpha": 1.0, "candidates": 0},
    "scatter": {"category_window": 0, "category_max": 0, "author_window": 0, "author_max": 0,
                "category_share": 1.0},
}

# Art. 16/17: every served slot has a reason. With neither relevance nor prior weighted, an item
# that matches no interest tag would be served with no reason bit at all (its score is 0).
_NO_REASON = ("policy.weights: relevance and prior are both 0, so an item matching no interest tag would be "
              "served with no reason to show (every slot must have one, Art. 16/17); give relevance or prior "
              "a non-zero weight")
_DELETION_MODES = ("ignore", "suppress")
_PRICE_ACTIONS = {"off": PriceAction.OFF, "drop": PriceAction.DROP, "clamp": PriceAction.CLAMP,
                  "flag": PriceAction.FLAG}
_METHODS = {"none": Method.NONE, "mmr": Method.MMR, "dpp": Method.DPP}


def parse_clock(value: Any, field: str) -> int:
    """'HH:MM' -> minutes since midnight."""
    if not isinstance(value, str):
        raise TypeError(f"{field}: expected a time as 'HH:MM', got {value!r}")
    parts = value.strip().split(":")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError(f"{field}: expected a time as 'HH:MM', got {value!r}")
    hours, minutes = int(parts[0]), int(parts[1])
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise ValueError(f"{field}: {value!r} is not a time of day (00:00 to 23:59)")
    return hours * 60 + minutes


def _check_keys(section: Mapping[str, Any], allowed: Mapping[str, Any], where: str) -> None:
    if not isinstance(section, Mapping):
        raise TypeError(f"{where}: expected a table of keys, got {type(section).__name__}")
    for key in section:
        if key not in allowed:
            known = ", ".join(sorted(allowed))
            raise ValueError(f"{where}.{key}: unknown policy key; known keys here: {known}")


def _normalise(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``raw`` against the schema and return the full policy with defaults filled in."""
    _check_keys(raw, DEFAULTS, "policy")
    out = copy.deepcopy(DEFAULTS)
    for name, default in DEFAULTS.items():
        if name in raw and isinstance(default, dict):
            _check_keys(raw[name], default, f"policy.{name}")
            out[name].update(raw[name])
        elif name in raw:
            out[name] = raw[name]

    out["k"] = as_int(out["k"], "policy.k", minimum=0, maximum=MAX_K)

    w = out["weights"]
    for key in ("relevance", "tag", "prior"):
        w[key] = as_float(w[key], f"policy.weights.{key}")
    if w["relevance"] == 0.0 and w["prior"] == 0.0:
        raise ValueError(_NO_REASON)

    t = out["tags"]
    if isinstance(t["forbidden"], (str, bytes)) or not hasattr(t["forbidden"], "__iter__"):
        raise TypeError("policy.tags.forbidden: expected a list of tag ids")
    t["forbidden"] = sorted({as_int(x, "policy.tags.forbidden", minimum=0, maximum=2**31 - 1)
                             for x in t["forbidden"]})
    if t["deletion"] not in _DELETION_MODES:
        raise ValueError(f"policy.tags.deletion: expected one of {_DELETION_MODES}, got {t['deletion']!r}")

    m = out["minor"]
    for key in ("curfew_start", "curfew_end"):
        parse_clock(m[key], f"policy.minor.{key}")
    if not isinstance(m["daily_minutes"], Mapping):
        raise TypeError("policy.minor.daily_minutes: expected a table {age: minutes}, e.g. { \"8\" = 40 }")
    bands: dict[str, int] = {}
    for age, minutes in m["daily_minutes"].items():
        try:
            age_int = int(str(age))
        except ValueError:
            raise ValueError(f"policy.minor.daily_minutes: key {age!r} is not an age in years") from None
        if not 0 < age_int <= 150:
            raise ValueError(f"policy.minor.daily_minutes: age {age_int} must be in 1..150")
        bands[str(age_int)] = as_int(minutes, f"policy.minor.daily_minutes.{age_int}", minimum=0, maximum=1440)
    m["daily_minutes"] = dict(sorted(bands.items(), key=lambda kv: int(kv[0])))

    f = out["fraud"]
    for key in ("max_risk", "elderly_max_risk"):
        f[key] = as_float(f[key], f"policy.fraud.{key}", minimum=0.0, maximum=1.0)

    p = out["price"]
    if p["action"] not in _PRICE_ACTIONS:
        raise ValueError(f"policy.price.action: expected one of {sorted(_PRICE_ACTIONS)}, got {p['action']!r}")
    for key in ("abs_tol", "rel_tol"):
        p[key] = as_float(p[key], f"policy.price.{key}", minimum=0.0)

    ks = out["key_slots"]
    ks["count"] = as_int(ks["count"], "policy.key_slots.count", minimum=0, maximum=MAX_K)
    ks["featured_min"] = as_int(ks["featured_min"], "policy.key_slots.featured_min", minimum=0, maximum=ks["count"])

    out["pins"] = _normalise_pins(out["pins"])

    dv = out["diversity"]
    if dv["method"] not in _METHODS:
        raise ValueError(f"policy.diversity.method: expected one of {sorted(_METHODS)}, got {dv['method']!r}")
    dv["lambda"] = as_float(dv["lambda"], "policy.diversity.lambda", minimum=0.0, maximum=1.0)
    dv["alpha"] = as_float(dv["alpha"], "policy.diversity.alpha", minimum=0.0, maximum=1e3)
    dv["candidates"] = as_int(dv["candidates"], "policy.diversity.candidates", minimum=0, maximum=2**31 - 1)

    sc = out["scatter"]
    for kind in ("category", "author"):
        win = sc[f"{kind}_window"] = as_int(sc[f"{kind}_window"], f"policy.scatter.{kind}_window",
                                            minimum=0, maximum=MAX_K)
        cap = sc[f"{kind}_max"] = as_int(sc[f"{kind}_max"], f"policy.scatter.{kind}_max", minimum=0, maximum=MAX_K)
        if win > 0 and cap < 1:
            raise ValueError(f"policy.scatter.{kind}_max: must be at least 1 when {kind}_window is set "
                             f"(0 would forbid every item); got {cap}")
    sc["category_share"] = as_float(sc["category_share"], "policy.scatter.category_share", minimum=0.0, maximum=1.0)
    if sc["category_share"] <= 0.0:
        raise ValueError("policy.scatter.category_share: must be above 0 (1.0 = no cap)")
    return out


def _normalise_pins(pins: Any) -> list[dict[str, int]]:
    if not isinstance(pins, (list, tuple)):
        raise TypeError("policy.pins: expected a list of {item_id, slot} tables")
    out, items, slots = [], set(), set()
    for n, pin in enumerate(pins):
        where = f"policy.pins[{n}]"
        if not isinstance(pin, Mapping):
            raise TypeError(f"{where}: expected a table with item_id and slot")
        _check_keys(pin, {"item_id": 0, "slot": 0}, where)
        if "item_id" not in pin or "slot" not in pin:
            raise ValueError(f"{where}: needs both item_id and slot")
        item = as_int(pin["item_id"], f"{where}.item_id", minimum=-(2**63), maximum=2**63 - 1)
        slot = as_int(pin["slot"], f"{where}.slot", minimum=0, maximum=MAX_K)
        if item in items:
            raise ValueError(f"{where}.item_id: item {item} is pinned twice; pin each item once")
        if slot in slots:
            raise ValueError(f"{where}.slot: slot {slot} is pinned twice; pin one item per slot")
        items.add(item)
        slots.add(slot)
        out.append({"item_id": item, "slot": slot})
    return out


def _set_dotted(target: dict[str, Any], dotted: str, value: Any) -> None:
    head, _, rest = dotted.partition(".")
    if not rest:
        target[head] = value
        return
    section = target.setdefault(head, {})
    if not isinstance(section, dict):
        raise ValueError(f"policy.{head}: is not a table, cannot set {dotted}")
    _set_dotted(section, rest, value)


class Policy:
    """An immutable, validated policy. Build it with :meth:`from_dict`, :meth:`from_toml`, or
    ``Policy()`` for all defaults; derive variants with :meth:`replace`."""

    __slots__ = ("_data", "_hash", "_core", "__weakref__")

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        self._data = _normalise(data or {})
        canonical = json.dumps(self._data, sort_keys=True, separators=(",", ":"))
        self._hash = hashlib.sha256(canonical.encode()).hexdigest()
        self._core = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Policy":
        return cls(data)

    @classmethod
    def from_toml(cls, path: str | Path) -> "Policy":
        try:
            import tomllib
        except ModuleNotFoundError:  # Python < 3.11
            import tomli as tomllib
        if Path(path).is_dir():
            raise ValueError(f"policy file {path}: is a folder; give the path of a .toml file")
        with open(path, "rb") as fh:
            try:
                data = tomllib.load(fh)
            except UnicodeDecodeError as exc:  # TOML is UTF-8
                raise ValueError(f"policy file {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
            except tomllib.TOMLDecodeError as exc:
                raise ValueError(f"policy file {path}: not valid TOML ({exc})") from None
        return cls(data)

    def to_dict(self) -> dict[str, Any]:
        """The full normalised policy (every key present), safe to modify."""
        return copy.deepcopy(self._data)

    def replace(self, **changes: Any) -> "Policy":
        """A new policy with some keys changed; nested keys by dotted name:
        ``policy.replace(k=20, **{"diversity.method": "mmr"})``."""
        data = self.to_dict()
        for dotted, value in changes.items():
            _set_dotted(data, dotted, value)
        return Policy(data)

    @property
    def hash(self) -> str:
        return self._hash

    @property
    def k(self) -> int:
        return self._data["k"]

    @property
    def method(self) -> str:
        return self._data["diversity"]["method"]

    def __getitem__(self, section: str) -> Any:
        """Read-only access to one section: ``policy["scatter"]["category_window"]``."""
        return copy.deepcopy(self._data[section])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Policy) and other._hash == self._hash

    def __hash__(self) -> int:
        return hash(self._hash)

    def __repr__(self) -> str:
        return f"Policy(hash={self._hash[:12]}, k={self.k}, method={self.method!r})"

    def native(self) -> Any:
        """The native module's copy of this policy (built once)."""
        core = self._core
        if core is None:
            from ._backend import native_module

            d = self._data
            bands = [(int(age), minutes) for age, minutes in d["minor"]["daily_minutes"].items()]
            pins = d["pins"]
            core = native_module().PolicyCore(
                k=d["k"],
                w_rel=d["weights"]["relevance"], w_tag=d["weights"]["tag"], w_prior=d["weights"]["prior"],
                forbidden_tags=np.asarray(d["tags"]["forbidden"], dtype=np.int32),
                deletion_suppress=d["tags"]["deletion"] == "suppress",
                curfew_start=parse_clock(d["minor"]["curfew_start"], "policy.minor.curfew_start"),
                curfew_end=parse_clock(d["minor"]["curfew_end"], "policy.minor.curfew_end"),
                daily_keys=np.asarray([a for a, _ in bands], dtype=np.int32),
                daily_minutes=np.asarray([m for _, m in bands], dtype=np.int32),
                max_risk=d["fraud"]["max_risk"], elderly_max_risk=d["fraud"]["elderly_max_risk"],
                price_action=int(_PRICE_ACTIONS[d["price"]["action"]]),
                abs_tol=d["price"]["abs_tol"], rel_tol=d["price"]["rel_tol"],
                key_count=d["key_slots"]["count"], featured_min=d["key_slots"]["featured_min"],
                pin_item_ids=np.asarray([p["item_id"] for p in pins], dtype=np.int64),
                pin_slots=np.asarray([p["slot"] for p in pins], dtype=np.int64),
                method=int(_METHODS[d["diversity"]["method"]]),
                mmr_lambda=d["diversity"]["lambda"], dpp_alpha=d["diversity"]["alpha"],
                candidates=d["diversity"]["candidates"],
                category_window=d["scatter"]["category_window"], category_max=d["scatter"]["category_max"],
                author_window=d["scatter"]["author_window"], author_max=d["scatter"]["author_max"],
                category_share=d["scatter"]["category_share"],
            )
            self._core = core
        return core


def share_cap(category_share: float, k: int) -> int:
    """Most items of one category on a page of k (docs/semantics.md); the 1e-9 absorbs 0.29 * 100 = 28.999..."""
    return max(1, math.floor(category_share * k + 1e-9))
