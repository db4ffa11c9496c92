"""Turning caller input into the one array layout both backends read.

Everything is normalised here, in Python, before it reaches either backend (the habit of
usearch's index.py): the native module then refuses anything that is not exactly this layout
instead of silently copying or casting. Conversions are made only where they lose nothing a
ranking could depend on: integers into wider or equal integer types when every value fits,
integral floats into integer fields, integers and floats into float fields. Anything else is a
``TypeError`` (wrong kind of data) or ``ValueError`` (right kind, impossible value) that names the
field and says what to pass instead. The caller's arrays are never written to.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

_NUMERIC_KINDS = "iuf"


def _describe(arr: np.ndarray) -> str:
    return f"dtype {arr.dtype} and shape {arr.shape}"


def as_array(value: Any, field: str, dtype: Any, ndim: int, *, round_up: bool = False) -> np.ndarray:
    """Return ``value`` as a C-contiguous array of ``dtype`` with ``ndim`` dimensions.

    No copy is made when the input already has that layout; strided, read-only and
    non-native-byte-order inputs are copied into a fresh array (the caller's stays untouched).
    ``round_up``: wider floats go to the nearest float32 at or above them, never below (for a
    value compared with a threshold, so that rounding never lets an item under it).
    """
    dtype = np.dtype(dtype)
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:  # ragged nested lists and the like
        raise TypeError(f"{field}: could not read it as an array ({exc}); pass a numpy array of {dtype}") from None
    if arr.dtype.kind not in _NUMERIC_KINDS:
        if arr.size == 0 and arr.dtype.kind in "OUSV":
            arr = np.zeros(arr.shape, dtype=dtype)  # np.asarray([]) of an empty list is float64; other empties too
        else:
            raise TypeError(
                f"{field}: expected numbers ({dtype}), got an array of dtype {arr.dtype}; "
                f"pass a numpy array of {dtype}"
            )
    if arr.ndim != ndim:
        raise ValueError(f"{field}: expected a {ndim}-D array, got {_describe(arr)}")
    if arr.dtype != dtype:
        arr = _cast(arr, field, dtype, round_up)
    return np.ascontiguousarray(arr)


def _cast(arr: np.ndarray, field: str, dtype: np.dtype, round_up: bool = False) -> np.ndarray:
    if dtype.kind == "f":
        # Floats of any width are accepted for float fields: scores are not sensitive to the
        # rounding, and refusing float64 input would make every caller write astype(). A finite
        # value beyond float32's range would become inf, and the backends' finiteness check
        # would then report an inf the caller never passed: refused here, with the value given.
        with np.errstate(over="ignore"):
            out = arr.astype(dtype)
        if arr.dtype.kind == "f" and arr.dtype.itemsize > dtype.itemsize and out.size:
            overflowed = np.isinf(out) & np.isfinite(arr)
            if overflowed.any():
                at = np.unravel_index(int(np.argmax(overflowed)), arr.shape)
                where = f"index {at[0]}" if arr.ndim == 1 else f"row {at[0]}, column {at[1]}"
                limit = float(np.finfo(dtype).max)
                raise ValueError(
                    f"{field}: value at {where} is {float(arr[at])!r}, beyond the range of {dtype} "
                    f"(largest magnitude {limit:.7g}); scale the values into that range"
                )
            if round_up:
                below = out < arr  # compared in the wider type: where nearest rounding went down
                out[below] = np.nextafter(out[below], np.array(np.inf, dtype))
        return out
    # Integer target.
    if arr.dtype.kind == "f":
        if arr.size and not (np.all(np.isfinite(arr)) and np.all(arr == np.floor(arr))):
            raise TypeError(
                f"{field}: expected integers ({dtype}), got floats with non-integral or non-finite values; "
                f"pass an integer array"
            )
    info = np.iinfo(dtype)
    if arr.size:
        lo, hi = arr.min(), arr.max()
        # For floats, compare with the bound above the range, a power of two and so exact in
        # float64: info.max itself rounds up to it (2**63 - 1 becomes 2**63), which let 2.0**63
        # pass and wrap to -2**63.
        too_high = hi >= float(info.max + 1) if arr.dtype.kind == "f" else hi > info.max
        if lo < info.min or too_high:
            raise ValueError(
                f"{field}: values must fit in {dtype} [{info.min}, {info.max}], got values in [{lo}, {hi}]"
            )
    return arr.astype(dtype)


def optional_array(value: Any, field: str, dtype: Any, ndim: int, length: int | None, *,
                   round_up: bool = False) -> np.ndarray | None:
    """Like :func:`as_array`, ``None`` passing through, with the first dimension checked."""
    if value is None:
        return None
    arr = as_array(value, field, dtype, ndim, round_up=round_up)
    if length is not None and arr.shape[0] != length:
        raise ValueError(f"{field}: expected length {length} (one per candidate), got {arr.shape[0]}")
    return arr


def as_int(value: Any, field: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """A plain Python int from an int-like scalar; bools and floats are refused."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{field}: expected an integer, got a bool ({value!r})")
    try:
        result = operator.index(value)
    except TypeError:
        raise TypeError(f"{field}: expected an integer, got {type(value).__name__} ({value!r})") from None
    if minimum is not None and result < minimum:
        raise ValueError(f"{field}: must be at least {minimum}, got {result}")
    if maximum is not None and result > maximum:
        raise ValueError(f"{field}: must be at most {maximum}, got {result}")
    return result


def as_float(value: Any, field: str, *, minimum: float | None = None, maximum: float | None = None) -> float:
    """A finite Python float from a real number; bools and strings are refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{field}: expected a number, got {type(value).__name__} ({value!r})")
    result = float(value)
    if result != result or result in (float("inf"), float("-inf")):
        raise ValueError(f"{field}: must be a finite number, got {result}")
    if minimum is not None and result < minimum:
        raise ValueError(f"{field}: must be at least {minimum}, got {result}")
    if maximum is not None and result > maximum:
        raise ValueError(f"{field}: must be at most {maximum}, got {result}")
    return result


def as_bool(value: Any, field: str) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{field}: expected True or False, got {type(value).__name__} ({value!r})")
