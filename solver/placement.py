"""Placement: the result every engine returns, and why some containers were not placed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
import pandas as pd


class Status(str, Enum):
    """How good a placement is known to be."""

    OPTIMAL = "optimal"  # proven: objective equals the bound
    FEASIBLE = "feasible"  # every container placed, optimality not proven
    PARTIAL = "partial"  # valid, but some containers are unplaced (each with a reason)
    INFEASIBLE = "infeasible"  # proven: no placement satisfies the objective's demands
    UNKNOWN = "unknown"  # the engine stopped before finding anything


@dataclass(frozen=True)
class Placement:
    """Where each container runs: ``assignment[i]`` is a machine index, or -1 if unplaced.

    ``reasons[i]`` (for each unplaced ``i``) counts, per dimension and per constraint, how
    many machines that reason excluded, e.g. ``{"memory": 812, "node_selector zone=b": 188,
    "down": 4}``.
    """

    assignment: np.ndarray
    engine: str
    status: Status
    seconds: float = 0.0
    objective: float | None = None
    bound: float | None = None
    reasons: Mapping[int, Mapping[str, int]] = field(default_factory=dict)
    options: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        a = np.ascontiguousarray(self.assignment, dtype=np.int32)
        if a.ndim != 1:
            raise ValueError("assignment must be one-dimensional")
        a.setflags(write=False)
        object.__setattr__(self, "assignment", a)
        object.__setattr__(self, "status", Status(self.status))
        missing = set(np.flatnonzero(a < 0).tolist()) - set(self.reasons)
        if missing:
            raise ValueError(f"unplaced containers without a reason: {sorted(missing)[:5]}")

    @property
    def n(self) -> int:
        """Number of containers."""
        return self.assignment.shape[0]

    @property
    def unplaced(self) -> np.ndarray:
        """Indices of the containers left unplaced, ascending."""
        return np.flatnonzero(self.assignment < 0)

    @property
    def placed(self) -> int:
        """Number of placed containers."""
        return int((self.assignment >= 0).sum())

    @property
    def machines_used(self) -> int:
        """Number of distinct machines running at least one container."""
        used = self.assignment[self.assignment >= 0]
        return int(np.unique(used).shape[0])

    @property
    def gap(self) -> float | None:
        """Relative gap between objective and bound (0 when proven optimal)."""
        if self.objective is None or self.bound is None or self.objective == 0:
            return None
        return (self.objective - self.bound) / abs(self.objective)

    def explain(self, container: int) -> str:
        """Why ``container`` is where it is, or why it could not be placed."""
        machine = int(self.assignment[container])
        if machine >= 0:
            return f"container {container} placed on machine {machine}"
        counts = self.reasons[container]
        parts = "; ".join(f"{k}: {v} machine{'s' if v != 1 else ''}" for k, v in counts.items())
        return f"container {container} not placed: {parts or 'no machines'}"

    def to_frame(self) -> pd.DataFrame:
        """One row per container: ``container``, ``machine`` (-1 unplaced)."""
        return pd.DataFrame({
            "container": np.arange(self.n, dtype=np.int64),
            "machine": self.assignment.astype(np.int64),
        })

    def summary(self) -> dict[str, object]:
        """The headline numbers as a plain dict."""
        return {
            "engine": self.engine,
            "status": self.status.value,
            "containers": self.n,
            "placed": self.placed,
            "unplaced": int(self.unplaced.shape[0]),
            "machines_used": self.machines_used,
            "objective": self.objective,
            "bound": self.bound,
            "seconds": self.seconds,
        }


def validate(problem, placement):  # replaced by the independent validator
    raise NotImplementedError
