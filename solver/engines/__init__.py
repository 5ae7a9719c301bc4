"""Engine protocol, the name -> factory registry, and :func:`place`.

Engines are interchangeable: each is built by ``get(name, **options)`` and solves a
Problem into a Placement. Greedy presets are data (order x rule x score), registered by
``solver.engines.greedy``; exact engines import OR-Tools only when first asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from ..errors import InvalidProblem
from ..model import Problem
from ..placement import Placement


@runtime_checkable
class Engine(Protocol):
    """Anything with a ``name`` that turns a Problem into a Placement."""

    name: str

    def solve(
        self, problem: Problem, *, time_limit: float | None = None, seed: int = 0
    ) -> Placement: ...


_FACTORIES: dict[str, Callable[..., Engine]] = {}
_LAZY: dict[str, str] = {
    "cpsat": "solver.engines.cpsat",
    "lns": "solver.engines.lns",
    "reassign": "solver.engines.reassign",
}


def register(name: str, factory: Callable[..., Engine]) -> None:
    """Make ``get(name, **options)`` return ``factory(**options)``."""
    _FACTORIES[name] = factory


def names() -> list[str]:
    """Every engine name ``get`` accepts, in registration order."""
    lazy = [
        n for n in _LAZY if n not in _FACTORIES and importlib.util.find_spec(_LAZY[n])
    ]
    return [*_FACTORIES, *lazy]


def get(name: str, **options: object) -> Engine:
    """Build engine ``name`` with ``options``; an unknown name lists the known ones."""
    if name not in _FACTORIES and name in _LAZY:
        importlib.import_module(_LAZY[name])
    if name not in _FACTORIES:
        raise InvalidProblem(
            f"unknown engine {name!r}; known engines: {', '.join(names())}"
        )
    return _FACTORIES[name](**options)


def place(
    problem: Problem,
    engine: str = "bfd",
    *,
    time_limit: float | None = None,
    seed: int = 0,
    check: bool = True,
    **options: object,
) -> Placement:
    """Place ``problem`` with ``engine``; validated unless ``check=False``."""
    from ..placement import validate

    placement = get(engine, **options).solve(problem, time_limit=time_limit, seed=seed)
    if check:
        validate(problem, placement)
    return placement


from . import greedy as greedy  # noqa: E402  (registers the greedy presets)
