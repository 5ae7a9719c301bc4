"""Restricted master LP of column generation over machine patterns (GLOP).

Shared by the arc-flow engine (graph pricing), graph-free column generation (knapsack
pricing) and the vector-packing LP bound: each covers every item type's demand with
the fewest patterns and prices new columns its own way.
"""

from __future__ import annotations

import numpy as np


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
        from ortools.linear_solver import pywraplp

        self.pywraplp = pywraplp
        self.lp = pywraplp.Solver.CreateSolver("GLOP")
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
        self.per_round = per_round
        for pattern in patterns:
            self.add(pattern)

    def add(self, pattern: list[int]) -> None:
        """Add a pattern (item types with repeats) as a column."""
        var = self.lp.NumVar(0, self.lp.infinity(), f"p[{len(self.vars)}]")
        for t, c in zip(*np.unique(pattern, return_counts=True), strict=True):
            self.rows[int(t)].SetCoefficient(var, float(c))
        self.objective.SetCoefficient(var, 1)
        self.vars.append(var)
        self.columns.append(list(pattern))

    def add_counts(self, counts: np.ndarray) -> None:
        """Add a pattern given as a count per item type."""
        self.add(np.repeat(np.arange(counts.shape[0]), counts).tolist())

    def row_duals(self) -> np.ndarray:
        """Duals of the demand rows after a solve, negatives (noise) read as 0."""
        return np.maximum([row.dual_value() for row in self.rows], 0.0)

    def set_demands(self, demands: np.ndarray) -> None:
        """Change the demand each item type must meet."""
        for row, b in zip(self.rows, demands.tolist(), strict=True):
            row.SetLb(float(b))

    def values(self) -> list[float]:
        """Current amount of each column."""
        return [v.solution_value() for v in self.vars]

    def optimize(self, deadline: float) -> float | None:
        """Column generation to the LP optimum; None if time runs out first."""
        raise NotImplementedError
