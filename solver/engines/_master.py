"""Restricted master LP of column generation over machine patterns (GLOP).

Shared by the arc-flow engine (graph pricing), graph-free column generation (knapsack
pricing) and the vector-packing LP bound: each covers every item type's demand with
the fewest patterns and prices new columns its own way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ortools.linear_solver.linear_solver_pb2 import MPSolutionResponse


class PatternMaster:
    """Restricted master LP over patterns (lists of item types with repeats), solved
    by GLOP: cover each type's demand with the fewest patterns. Subclasses price new
    columns in ``optimize`` (the LP dives use only that and what is here); a caller
    with its own pricing loop calls ``add`` and reads ``rows`` duals itself.
    ``parameters``: GLOP parameters in protobuf text format."""

    def __init__(
        self,
        demands: np.ndarray,
        patterns: list[list[int]],
        per_round: int = 1,
        parameters: str = "",
    ) -> None:
        from ortools.linear_solver import linear_solver_pb2, pywraplp

        self.pywraplp = pywraplp
        self.lp = pywraplp.Solver.CreateSolver("GLOP")
        # a solve's values and duals are read in one call: one Python call per
        # column or row took longer than the re-solves of an LP dive
        self._solution = linear_solver_pb2.MPSolutionResponse()
        if parameters and not self.lp.SetSolverSpecificParametersAsString(parameters):
            raise ValueError(f"GLOP does not take the parameters {parameters!r}")
        self.rows = [
            self.lp.Constraint(float(b), self.lp.infinity(), f"demand[{t}]")
            for t, b in enumerate(demands)
        ]
        self.objective = self.lp.Objective()
        self.objective.SetMinimization()
        self.columns: list[list[int]] = []
        self.vars: list = []
        self.farley = 0.0
        self.duals = np.zeros(len(self.rows))
        self._demands = np.asarray(demands, dtype=np.float64).copy()
        self.per_round = per_round
        for pattern in patterns:
            self.add(pattern)

    def add(self, pattern: list[int]) -> None:
        """Add a pattern (item types with repeats) as a column."""
        types, copies = np.unique(pattern, return_counts=True)
        self._add(types, copies, list(pattern))

    def add_counts(self, counts: np.ndarray) -> None:
        """Add a pattern given as a count per item type."""
        types = np.flatnonzero(counts)
        pattern = np.repeat(np.arange(counts.shape[0]), counts).tolist()
        self._add(types, counts[types], pattern)

    def _add(self, types: np.ndarray, copies: np.ndarray, pattern: list[int]) -> None:
        """Add the column with ``copies`` of each of ``types`` (``pattern``)."""
        var = self.lp.NumVar(0, self.lp.infinity(), f"p[{len(self.vars)}]")
        for t, c in zip(types.tolist(), copies.tolist(), strict=True):
            self.rows[t].SetCoefficient(var, float(c))
        self.objective.SetCoefficient(var, 1)
        self.vars.append(var)
        self.columns.append(pattern)

    def _solved(self) -> MPSolutionResponse:
        """The last solve's values and duals."""
        self._solution.Clear()
        self.lp.FillSolutionResponseProto(self._solution)
        return self._solution

    def solution(self) -> tuple[np.ndarray, np.ndarray]:
        """The last solve's column values and row duals (as ``values`` and
        ``row_duals``), read in one call."""
        solved = self._solved()
        values = np.array(solved.variable_value[: len(self.vars)])
        duals = np.array(solved.dual_value[: len(self.rows)])
        return values, np.maximum(duals, 0.0)

    def row_duals(self) -> np.ndarray:
        """Duals of the demand rows after a solve, negatives (noise) read as 0."""
        return self.solution()[1]

    def set_demands(self, demands: np.ndarray) -> None:
        """Change the demand each item type must meet (only the rows that change
        are touched)."""
        demands = np.asarray(demands, dtype=np.float64)
        for t in np.flatnonzero(demands != self._demands).tolist():
            self.rows[t].SetLb(float(demands[t]))
        self._demands = demands.copy()

    def values(self) -> np.ndarray:
        """Current amount of each column."""
        return self.solution()[0]

    def optimize(self, deadline: float) -> float | None:
        """Column generation to the LP optimum; None if time runs out first."""
        raise NotImplementedError
