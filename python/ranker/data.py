"""The request data: candidates, the user, and the history of earlier pages.

Each class normalises its input once, at construction (see ``_convert``), into the exact
layout of the data contract in DESIGN.md, and its fields cannot be reassigned afterwards (the
native backend keeps a view of them). Values (NaN, ranges, tag ids) are checked by the backend at
rank time, on the arrays it actually reads, so that a value written into an array after
construction cannot slip past the check.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ._convert import as_array, as_bool, as_int, optional_array

MAX_AGE = 150
MINUTES_PER_DAY = 1440


class _ReadOnly:
    """Fields fixed at construction. The native view of an object (``_core``) is built from its
    fields on first use and kept, so a field assigned afterwards would reach the reference
    backend but not the native one: a BLOCKED flag set later would be served. Assignment is
    therefore refused; build a new object instead (construction copies nothing it need not)."""

    __slots__ = ()

    def __setattr__(self, name: str, value: Any) -> None:
        kind = type(self).__name__
        raise AttributeError(f"{kind.lower()}.{name}: a {kind} cannot be changed after construction; "
                             f"build a new {kind}(...) with the new value")

    def __delattr__(self, name: str) -> None:
        self.__setattr__(name, None)

    # pickle and copy: the fields travel, the native view does not (it is rebuilt on first use,
    # and cannot be pickled).
    def __getstate__(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__ if name not in ("_core", "__weakref__")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        _assign(self, **state, _core=None)


def _assign(obj: Any, **fields: Any) -> None:
    """Set fields during construction (the one place they may be set)."""
    for name, value in fields.items():
        object.__setattr__(obj, name, value)


def _tags_to_csr(tags: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Tags as CSR: a ``(indptr, ids)`` tuple is taken as is, anything else is one list per item."""
    if isinstance(tags, tuple) and len(tags) == 2:
        indptr = as_array(tags[0], "candidates.tags (indptr)", np.int64, 1)
        ids = as_array(tags[1], "candidates.tags (ids)", np.int32, 1)
        if indptr.shape[0] != n + 1:
            raise ValueError(
                f"candidates.tags: the CSR indptr must have n + 1 = {n + 1} entries, got {indptr.shape[0]}"
            )
        return indptr, ids
    if isinstance(tags, (str, bytes)) or not isinstance(tags, Sequence) and not isinstance(tags, np.ndarray):
        raise TypeError(
            "candidates.tags: expected a list with one list of tag ids per candidate, or an (indptr, ids) tuple"
        )
    if len(tags) != n:
        raise ValueError(f"candidates.tags: expected one tag list per candidate ({n}), got {len(tags)}")
    lengths = np.empty(n + 1, dtype=np.int64)
    lengths[0] = 0
    flat: list[int] = []
    for i, row in enumerate(tags):
        row_ids = as_array(row if row is not None else [], f"candidates.tags[{i}]", np.int32, 1)
        flat.extend(row_ids.tolist())
        lengths[i + 1] = row_ids.shape[0]
    return np.cumsum(lengths), np.asarray(flat, dtype=np.int32)


class Candidates(_ReadOnly):
    """The n items of one request, as a struct of arrays (see DESIGN.md, data contract).

    Required: ``item_id`` (int64[n]), ``embedding`` (float32[n, d]), ``prior`` (float32[n]).
    Optional: ``category`` and ``author`` (int32[n]), ``tags`` (a list of tag-id lists, or a
    CSR ``(indptr, ids)`` tuple), ``flags`` (uint32[n], bits of :class:`ranker.Flag`),
    ``min_age`` (uint8[n], 0 = all ages), ``fraud_risk`` (float32[n] in [0, 1]),
    ``offered_price`` and ``reference_price`` (float64[n], NaN = no price; both or neither).
    A rule that needs an optional field it does not get raises at rank time (fail closed).
    """

    __slots__ = (
        "item_id", "embedding", "prior", "category", "author", "tag_indptr", "tag_ids", "flags",
        "min_age", "fraud_risk", "offered_price", "reference_price", "_core", "__weakref__",
    )

    def __init__(
        self,
        item_id: Any,
        embedding: Any,
        prior: Any,
        *,
        category: Any = None,
        author: Any = None,
        tags: Any = None,
        flags: Any = None,
        min_age: Any = None,
        fraud_risk: Any = None,
        offered_price: Any = None,
        reference_price: Any = None,
    ) -> None:
        item_id = as_array(item_id, "candidates.item_id", np.int64, 1)
        n = item_id.shape[0]
        embedding = as_array(embedding, "candidates.embedding", np.float32, 2)
        if embedding.shape[0] != n:
            raise ValueError(
                f"candidates.embedding: expected {n} rows (one per item_id), got shape {embedding.shape}"
            )
        if embedding.shape[1] < 1:
            raise ValueError("candidates.embedding: the embedding dimension d must be at least 1, got 0")
        prior = optional_array(prior, "candidates.prior", np.float32, 1, n)
        if prior is None:
            raise TypeError("candidates.prior: required; pass float32[n] non-personal scores")
        category = optional_array(category, "candidates.category", np.int32, 1, n)
        author = optional_array(author, "candidates.author", np.int32, 1, n)
        tag_indptr, tag_ids = (None, None) if tags is None else _tags_to_csr(tags, n)
        flags = optional_array(flags, "candidates.flags", np.uint32, 1, n)
        min_age = optional_array(min_age, "candidates.min_age", np.uint8, 1, n)
        # Rounded up from wider floats: an item is dropped when its risk exceeds a threshold
        # (Art. 19), and nearest rounding could put a risk just above it at or below it.
        fraud_risk = optional_array(fraud_risk, "candidates.fraud_risk", np.float32, 1, n, round_up=True)
        offered_price = optional_array(offered_price, "candidates.offered_price", np.float64, 1, n)
        reference_price = optional_array(reference_price, "candidates.reference_price", np.float64, 1, n)
        if (offered_price is None) != (reference_price is None):
            missing = "reference_price" if reference_price is None else "offered_price"
            raise ValueError(
                f"candidates.{missing}: price parity needs both offered_price and reference_price (or neither)"
            )
        _assign(self, item_id=item_id, embedding=embedding, prior=prior, category=category, author=author,
                tag_indptr=tag_indptr, tag_ids=tag_ids, flags=flags, min_age=min_age, fraud_risk=fraud_risk,
                offered_price=offered_price, reference_price=reference_price, _core=None)

    @property
    def n(self) -> int:
        return int(self.item_id.shape[0])

    @property
    def d(self) -> int:
        return int(self.embedding.shape[1])

    def __len__(self) -> int:
        return self.n

    def tags_of(self, i: int) -> list[int]:
        """The tag ids of candidate ``i`` (empty when the request has no tags)."""
        if self.tag_indptr is None:
            return []
        return self.tag_ids[self.tag_indptr[i]: self.tag_indptr[i + 1]].tolist()

    def native(self) -> Any:
        """The native module's view of these arrays (built once, keeps them alive)."""
        core = self._core
        if core is None:
            from ._backend import native_module

            core = native_module().CandidatesCore(
                self.item_id, self.embedding, self.prior, self.category, self.author, self.tag_indptr,
                self.tag_ids, self.flags, self.min_age, self.fraud_risk, self.offered_price, self.reference_price,
            )
            _assign(self, _core=core)
        return core

    def __repr__(self) -> str:
        present = [f for f in ("category", "author", "flags", "min_age", "fraud_risk", "offered_price")
                   if getattr(self, f) is not None]
        if self.tag_indptr is not None:
            present.append("tags")
        return f"Candidates(n={self.n}, d={self.d}, fields={present})"


def _user_tags(tags: Any) -> tuple[np.ndarray, np.ndarray]:
    if tags is None:
        return np.zeros(0, np.int32), np.zeros(0, np.float64)
    if isinstance(tags, Mapping):
        ids = as_array(list(tags.keys()), "user.tags", np.int32, 1)
        weights = as_array(list(tags.values()), "user.tags (weights)", np.float64, 1)
    elif isinstance(tags, tuple) and len(tags) == 2:
        ids = as_array(tags[0], "user.tags (ids)", np.int32, 1)
        weights = as_array(tags[1], "user.tags (weights)", np.float64, 1)
        if ids.shape != weights.shape:
            raise ValueError(f"user.tags: {ids.shape[0]} ids but {weights.shape[0]} weights")
    else:
        raise TypeError("user.tags: expected a dict {tag_id: weight} or an (ids, weights) tuple")
    if ids.size and np.unique(ids).size != ids.size:
        raise ValueError("user.tags: a tag id appears twice; give each interest tag one weight")
    return ids, weights


class User(_ReadOnly):
    """The person the request is for (see DESIGN.md, data contract).

    ``personalized=False`` means the user switched personalization off: no personal input
    (embedding, tags, deleted tags) may influence the result. ``age=None`` in minor mode is
    treated as the youngest band. ``seen`` lists item ids already shown: they are dropped.
    """

    __slots__ = (
        "embedding", "tag_ids", "tag_weights", "personalized", "deleted_tags", "minor_mode", "age",
        "elderly", "local_minute", "usage_minutes_today", "seen", "_core", "__weakref__",
    )

    def __init__(
        self,
        embedding: Any,
        tags: Any = None,
        *,
        personalized: bool = True,
        deleted_tags: Iterable[int] = (),
        minor_mode: bool = False,
        age: int | None = None,
        elderly: bool = False,
        local_minute: int | None = None,
        usage_minutes_today: int | None = None,
        seen: Iterable[int] = (),
    ) -> None:
        tag_ids, tag_weights = _user_tags(tags)
        _assign(
            self,
            embedding=as_array(embedding, "user.embedding", np.float32, 1),
            tag_ids=tag_ids, tag_weights=tag_weights,
            personalized=as_bool(personalized, "user.personalized"),
            deleted_tags=as_array(list(deleted_tags) if not isinstance(deleted_tags, np.ndarray) else deleted_tags,
                                  "user.deleted_tags", np.int32, 1),
            minor_mode=as_bool(minor_mode, "user.minor_mode"),
            age=None if age is None else as_int(age, "user.age", minimum=0, maximum=MAX_AGE),
            elderly=as_bool(elderly, "user.elderly"),
            local_minute=(None if local_minute is None
                          else as_int(local_minute, "user.local_minute", minimum=0, maximum=MINUTES_PER_DAY - 1)),
            usage_minutes_today=(None if usage_minutes_today is None
                                 else as_int(usage_minutes_today, "user.usage_minutes_today", minimum=0)),
            seen=as_array(list(seen) if not isinstance(seen, np.ndarray) else seen, "user.seen", np.int64, 1),
            _core=None,
        )

    @property
    def d(self) -> int:
        return int(self.embedding.shape[0])

    @property
    def tags(self) -> dict[int, float]:
        return dict(zip(self.tag_ids.tolist(), self.tag_weights.tolist()))

    def native(self) -> Any:
        core = self._core
        if core is None:
            from ._backend import native_module

            core = native_module().UserCore(
                self.embedding, self.tag_ids, self.tag_weights, self.personalized, self.deleted_tags,
                self.minor_mode, -1 if self.age is None else self.age, self.elderly,
                -1 if self.local_minute is None else self.local_minute,
                -1 if self.usage_minutes_today is None else min(self.usage_minutes_today, 2**31 - 1),
                self.seen,
            )
            _assign(self, _core=core)
        return core

    def __repr__(self) -> str:
        return (f"User(d={self.d}, personalized={self.personalized}, tags={len(self.tag_ids)}, "
                f"minor_mode={self.minor_mode}, age={self.age}, elderly={self.elderly})")


class History(_ReadOnly):
    """What earlier pages showed, most recent last: scatter windows and MMR continue from it.

    Any of the three may be ``None``; a window rule that needs a missing one raises at rank time.
    """

    __slots__ = ("categories", "authors", "embeddings", "_core", "__weakref__")

    def __init__(self, categories: Any = None, authors: Any = None, embeddings: Any = None) -> None:
        categories = optional_array(categories, "history.categories", np.int32, 1, None)
        authors = optional_array(authors, "history.authors", np.int32, 1, None)
        embeddings = optional_array(embeddings, "history.embeddings", np.float32, 2, None)
        lengths = {len(a) for a in (categories, authors, embeddings) if a is not None}
        if len(lengths) > 1:
            raise ValueError(f"history: categories, authors and embeddings must have one entry per shown item; "
                             f"got lengths {sorted(lengths)}")
        _assign(self, categories=categories, authors=authors, embeddings=embeddings, _core=None)

    def __len__(self) -> int:
        for a in (self.categories, self.authors, self.embeddings):
            if a is not None:
                return int(a.shape[0])
        return 0

    def extended(self, categories: Any, authors: Any, embeddings: Any) -> "History":
        """This history followed by newly shown items (a field stays ``None`` if either side lacks it)."""

        def join(old: Any, new: Any, empty_old: bool) -> Any:
            if new is None or (old is None and not empty_old):
                return None
            return new if old is None else np.concatenate([old, new])

        empty = len(self) == 0
        return History(join(self.categories, categories, empty), join(self.authors, authors, empty),
                       join(self.embeddings, embeddings, empty))

    def native(self) -> Any:
        core = self._core
        if core is None:
            from ._backend import native_module

            core = native_module().HistoryCore(self.categories, self.authors, self.embeddings)
            _assign(self, _core=core)
        return core

    def __repr__(self) -> str:
        return f"History(items={len(self)})"
