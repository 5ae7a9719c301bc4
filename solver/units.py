"""Resource units and the policies that turn float amounts into int64 once, at the edge.

Everything downstream of a reader compares int64 amounts only. A float column is scaled
by a named policy, and the policy is recorded on the Problem so results can be read
back.
"""

from __future__ import annotations

import numpy as np

from .errors import InvalidProblem

#: Default unit of a well-known resource name; anything else is a plain count ("unit").
DEFAULT_UNITS: dict[str, str] = {
    "cpu": "millicore",
    "memory": "MiB",
    "disk": "MiB",
    "gpu": "milli-GPU",
    "size": "unit",
}

#: Scaling policies: name -> function(values, resolution) -> float array to round.
SCALINGS = {
    "exact": lambda v, r: v,
    "resolution": lambda v, r: v * r,
}


def unit_of(name: str) -> str:
    """The default unit of a resource called ``name``."""
    return DEFAULT_UNITS.get(name, "unit")


def to_int64(
    values: np.ndarray,
    *,
    source: str,
    field: str,
    scaling: str = "exact",
    resolution: int = 1,
) -> np.ndarray:
    """Amounts as int64, refusing NaN, infinities and (under ``exact``) fractions.

    ``scaling="resolution"`` multiplies normalised floats (e.g. Google's 0..1 CPU) by
    ``resolution`` and rounds to the nearest integer: the one place floats are rounded.
    """
    if scaling not in SCALINGS:
        raise InvalidProblem(
            f"{source}: unknown scaling {scaling!r}; use {sorted(SCALINGS)}"
        )
    arr = np.asarray(values)
    if arr.dtype.kind in "iub":
        return arr.astype(np.int64, copy=False)
    try:
        arr = arr.astype(np.float64)
    except (TypeError, ValueError):
        bad = _first_non_numeric(arr)
        raise InvalidProblem(
            f"{source}: row {bad}, field {field!r}: {str(np.ravel(arr)[bad])!r} is "
            "not a number"
        ) from None
    if not np.isfinite(arr).all():
        bad = int(np.flatnonzero(~np.isfinite(arr.ravel()))[0])
        raise InvalidProblem(
            f"{source}: row {_row(arr, bad)}, field {field!r}: "
            f"{arr.ravel()[bad]} is not a finite number"
        )
    scaled = SCALINGS[scaling](arr, resolution)
    if scaling == "exact":
        frac = scaled != np.round(scaled)
        if frac.any():
            bad = int(np.flatnonzero(frac.ravel())[0])
            raise InvalidProblem(
                f"{source}: row {_row(arr, bad)}, field {field!r}: {arr.ravel()[bad]} "
                "is "
                "not a whole number (declare a unit or a scaling resolution)"
            )
    if np.abs(scaled).max(initial=0) >= 2**62:
        raise InvalidProblem(f"{source}: field {field!r}: amount too large for int64")
    return np.rint(scaled).astype(np.int64)


def _row(arr: np.ndarray, flat_index: int) -> int:
    return flat_index // arr.shape[1] if arr.ndim == 2 else flat_index


def _first_non_numeric(arr: np.ndarray) -> int:
    for i, v in enumerate(np.ravel(arr)):
        try:
            float(v)
        except (TypeError, ValueError):
            return i
    return 0
