"""Small helpers several test modules share."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import strategies as st

from solver.datasets import read
from solver.model import Problem


def bpplib_case(shared: Path, family: str, instance: str) -> tuple[Problem, int]:
    """A BPPLIB instance of the shared data and its known optimum; skips the test
    when this part of the data is absent."""
    folder = shared / "bpplib" / family
    path = folder / f"{instance}.txt"
    if not path.exists():
        pytest.skip(f"{instance} is not in this part of the data")
    with (folder / "optima.csv").open() as fh:
        optimum = {r["instance"]: int(r["best_known"]) for r in csv.DictReader(fh)}
    return read(path), optimum[instance]


def roadef_model_text(inst: dict) -> str:
    """A ROADEF/EURO 2012 ``model_*.txt`` written from a plain dict, field by field."""
    lines = [str(len(inst["resources"]))]
    lines += [f"{t} {w}" for t, w in inst["resources"]]
    lines.append(str(len(inst["machines"])))
    for (n, loc, cap, safe), row in zip(inst["machines"], inst["mmc"], strict=True):
        lines.append(" ".join(map(str, [n, loc, *cap, *safe, *row])))
    lines.append(str(len(inst["services"])))
    lines += [" ".join(map(str, [sm, len(dep), *dep])) for sm, dep in inst["services"]]
    lines.append(str(len(inst["processes"])))
    lines += [" ".join(map(str, [s, *req, pmc])) for s, req, pmc in inst["processes"]]
    lines.append(str(len(inst["balance"])))
    for r1, r2, target, weight in inst["balance"]:
        lines += [f"{r1} {r2} {target}", str(weight)]
    lines.append(" ".join(map(str, inst["weights"])))
    return "\n".join(lines) + "\n"


def write_roadef(folder: Path, inst: dict, name: str = "t") -> Path:
    """Write ``model_<name>.txt`` and ``assignment_<name>.txt``; returns the model."""
    model = folder / f"model_{name}.txt"
    model.write_text(roadef_model_text(inst))
    (folder / f"assignment_{name}.txt").write_text(" ".join(map(str, inst["initial"])))
    return model


def vector_instances(
    dims: int = 3, size: int = 12, items: int = 8, min_items: int = 1
) -> st.SearchStrategy:
    """``(capacity, requests)`` lists of 1..``dims`` dimensions: capacities 1..``size``,
    ``min_items``..``items`` requests of 0..``size`` each."""
    return st.integers(1, dims).flatmap(
        lambda d: st.tuples(
            st.lists(st.integers(1, size), min_size=d, max_size=d),
            st.lists(
                st.lists(st.integers(0, size), min_size=d, max_size=d),
                min_size=min_items,
                max_size=items,
            ),
        )
    )
