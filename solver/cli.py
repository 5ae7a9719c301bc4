"""The ``tetrimino`` command: list engines, read instance files, place them.

Each subcommand is a ``_cmd_*`` function taking the parsed arguments and returning the
exit code; ``_build_parser`` wires them up, so a new subcommand is one ``add_parser``
block and one function. Heavy modules (OR-Tools) load only when an engine needs them.
Exit codes: 0 success, 1 a placement failed validation, 2 bad input or usage.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from .errors import InvalidProblem, PlacementError

Command = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``tetrimino`` with ``argv`` (default: sys.argv); return the code."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, or a usage error already printed on one line
        return int(stop.code or 0)
    command: Command | None = getattr(args, "command", None)
    if command is None:
        parser.print_help()
        return 2
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.showwarning = _show_warning
            return command(args)
    except (InvalidProblem, OSError) as exc:
        return _fail(_one_line(exc))


def _show_warning(message: Warning | str, *args: object, **kwargs: object) -> None:
    """Warnings (e.g. a node selector no machine matches) as one stderr line."""
    print(f"tetrimino: warning: {' '.join(str(message).split())}", file=sys.stderr)


def _build_parser() -> _Parser:
    parser = _Parser(
        prog="tetrimino",
        description="Container placement: greedy and exact engines on instance files.",
    )
    sub = parser.add_subparsers(
        title="commands", metavar="COMMAND", parser_class=_Parser
    )

    engines = sub.add_parser("engines", help="list the placement engines")
    engines.set_defaults(command=_cmd_engines)

    place = sub.add_parser(
        "place", help="place an instance file with one or more engines"
    )
    place.add_argument("path", metavar="PATH", help="instance file")
    _format_option(place)
    place.add_argument(
        "--engine",
        default="bfd",
        metavar="NAME",
        help="engine name, or a comma-separated list to compare (default: bfd)",
    )
    place.add_argument(
        "--time-limit", type=float, metavar="S", help="seconds per engine"
    )
    place.add_argument("--seed", type=int, default=0, metavar="N", help="random seed")
    place.add_argument(
        "--objective",
        metavar="NAME",
        help=(
            "cpsat objective: min-machines (default), max-placed or min-moves "
            "(greedy engines ignore it)"
        ),
    )
    place.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help=(
            "threads for cpsat (default: every core) and lns (default: 1); "
            "greedy engines ignore it"
        ),
    )
    place.add_argument("--json", action="store_true", help="one JSON object per engine")
    place.add_argument(
        "--out",
        metavar="PLACEMENT.parquet",
        help="write container, machine (-1 = unplaced) as Parquet (one engine only)",
    )
    place.set_defaults(command=_cmd_place)

    rebalance = sub.add_parser(
        "rebalance",
        help="move containers from their current machines to lower a cost",
    )
    rebalance.add_argument(
        "path", metavar="PATH", help="instance with a current assignment"
    )
    rebalance.add_argument(
        "--objective",
        default="cost",
        choices=("cost", "min-machines", "balance"),
        help="what to lower (default: cost, the ROADEF 2012 objective on its files)",
    )
    rebalance.add_argument(
        "--max-moves", type=int, metavar="K", help="move at most K containers"
    )
    rebalance.add_argument(
        "--time-limit", type=float, default=60.0, metavar="S", help="seconds (60)"
    )
    rebalance.add_argument("--seed", type=int, default=0, metavar="N")
    rebalance.add_argument("--json", action="store_true", help="print one JSON object")
    rebalance.add_argument(
        "--out",
        metavar="ASSIGNMENT.parquet",
        help="write container, machine of the improved assignment as Parquet",
    )
    rebalance.set_defaults(command=_cmd_rebalance)

    datasets = sub.add_parser("datasets", help="instance files and formats")
    dsub = datasets.add_subparsers(
        title="commands", metavar="COMMAND", parser_class=_Parser
    )
    read = dsub.add_parser("read", help="read a file and print its size")
    read.add_argument("path", metavar="PATH", help="instance file")
    _format_option(read)
    read.add_argument("--json", action="store_true", help="print one JSON object")
    read.set_defaults(command=_cmd_datasets_read)
    listing = dsub.add_parser("list", help="the public datasets tetrimino can fetch")
    listing.set_defaults(command=_cmd_datasets_list)
    about = dsub.add_parser("info", help="source, licence, size and files of a dataset")
    about.add_argument("name", metavar="NAME", help="dataset name (see: datasets list)")
    about.set_defaults(command=_cmd_datasets_info)
    fetch = dsub.add_parser("fetch", help="download a dataset into the cache")
    fetch.add_argument("name", metavar="NAME", help="dataset name (see: datasets list)")
    fetch.set_defaults(command=_cmd_datasets_fetch)
    return parser


def _format_option(parser: argparse.ArgumentParser) -> None:
    from .datasets import formats

    parser.add_argument(
        "--format",
        default="auto",
        metavar="F",
        help=f"file format: auto (default, sniffed) or one of {', '.join(formats())}",
    )


def _cmd_engines(args: argparse.Namespace) -> int:
    from . import engines

    names = engines.names()
    width = max(map(len, names), default=0)
    for name in names:
        print(f"{name:<{width}}  {_describe(name)}")
    return 0


def _describe(name: str) -> str:
    """A short description of an engine: its ``description``, preset or docstring."""
    from . import engines

    try:
        engine = engines.get(name)
    except (ImportError, InvalidProblem) as exc:
        return f"(unavailable: {_one_line(exc)})"
    text = getattr(engine, "description", None)
    if text:
        return str(text)
    preset = {k: getattr(engine, k, None) for k in ("order", "rule", "score")}
    if preset["order"] is not None and preset["rule"] is not None:
        return "greedy: " + ", ".join(f"{k} {v}" for k, v in preset.items() if v)
    doc = (type(engine).__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""


def _cmd_datasets_read(args: argparse.Namespace) -> int:
    from . import datasets

    problem = datasets.read(args.path, format=args.format)
    info = {
        "instance": problem.name,
        "format": problem.metadata.get("format", args.format),
        "containers": problem.n,
        "machines": problem.m,
        "dims": problem.d,
        "resources": list(problem.resources.names),
        "best_known": problem.best_known,
        "is_optimal": problem.metadata.get("is_optimal"),
    }
    if args.json:
        print(json.dumps(info))
        return 0
    best = "unknown" if problem.best_known is None else str(problem.best_known)
    if problem.metadata.get("is_optimal"):
        best += " (optimal)"
    print(
        f"{info['instance']}: {info['format']}, {problem.n} containers, "
        f"{problem.m} machines, {_dims(problem.d)} ({', '.join(info['resources'])}), "
        f"best known {best}"
    )
    return 0


def _cmd_rebalance(args: argparse.Namespace) -> int:
    import pandas as pd

    from .engines.reassign import rebalance_file

    if args.max_moves is not None and args.max_moves < 0:
        return _fail("rebalance: --max-moves must be >= 0")
    result = rebalance_file(
        args.path,
        objective=args.objective,
        max_moves=args.max_moves,
        time_limit=args.time_limit,
        seed=args.seed,
    )
    assignment = result.pop("assignment")
    if args.out:
        pd.DataFrame(
            {
                "container": range(len(assignment)),
                "machine": pd.array(assignment, dtype="int64"),
            }
        ).to_parquet(args.out, index=False)
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{result['instance']}: {result['objective']} "
            f"{result['cost_before']:,} -> {result['cost_after']:,} "
            f"({result['moves']} moves, {result['machines_freed']} machines freed, "
            f"{'feasible' if result['feasible'] else 'INFEASIBLE'}, "
            f"{result['seconds']:.1f} s)"
        )
    return 0 if result["feasible"] else 1


def _cmd_datasets_list(args: argparse.Namespace) -> int:
    from .datasets import catalog

    rows = catalog.list_datasets()
    width = max((len(str(r["name"])) for r in rows), default=0)
    for row in rows:
        print(f"{row['name']!s:<{width}}  {row['title']}")
    return 0


def _cmd_datasets_info(args: argparse.Namespace) -> int:
    from .datasets import catalog

    print(catalog.describe(args.name))
    return 0


def _cmd_datasets_fetch(args: argparse.Namespace) -> int:
    from .datasets import fetch

    try:
        paths = fetch.fetch(args.name)
    except ConnectionError as exc:
        raise InvalidProblem(
            f"{args.name}: download interrupted ({exc}); run again to resume"
        ) from None
    for path in paths:
        print(path)
    return 0


def _cmd_place(args: argparse.Namespace) -> int:
    from . import datasets, engines

    names = [n.strip() for n in args.engine.split(",") if n.strip()]
    if not names:
        return _fail("place: --engine needs at least one engine name")
    if args.out and len(names) > 1:
        return _fail("place: --out writes one placement; give a single --engine")
    known = engines.names()
    unknown = [n for n in names if n not in known]
    if unknown:
        return _fail(
            f"unknown engine {unknown[0]!r}; known engines: {', '.join(known)}"
        )
    problem = datasets.read(args.path, format=args.format)
    from .bounds import lower_bound

    bound = int(lower_bound(problem))
    rows = []
    code = 0
    for name in names:
        row = _place_one(problem, name, args, bound)
        code = max(code, 0 if row["valid"] else 1)
        rows.append(row)
        if args.json:
            print(json.dumps(row), flush=True)
    if not args.json:
        _print_table(problem, rows)
    return code


def _place_one(problem: Any, name: str, args: argparse.Namespace, bound: int) -> dict:
    """Solve with one engine, validate, and return the row ``--json`` prints."""
    from . import engines
    from .placement import validate

    start = time.perf_counter()
    placement = engines.get(name, **_exact_options(name, args)).solve(
        problem, time_limit=args.time_limit, seed=args.seed
    )
    wall = time.perf_counter() - start
    if sys.stderr.isatty() and name in _EXACT_ENGINES:
        print(file=sys.stderr)  # end the progress line
    try:
        validate(problem, placement)
        valid = True
    except PlacementError as exc:
        valid = False
        print(
            f"{args.path}: engine {name}: invalid placement: {_one_line(exc)}",
            file=sys.stderr,
        )
    if args.out and valid:
        placement.to_frame().to_parquet(args.out, index=False)
    ids = problem.containers.ids
    return {
        "instance": problem.name,
        "engine": name,
        "status": placement.status.value,
        "containers": problem.n,
        "machines": problem.m,
        "machines_used": placement.machines_used,
        "lower_bound": bound,
        "best_known": problem.best_known,
        "placed": placement.placed,
        "unplaced": int(placement.unplaced.shape[0]),
        "objective": _number(placement.objective),
        "bound": _number(placement.bound),
        "seconds": round(placement.seconds or wall, 6),
        "valid": valid,
        "reasons": {
            str(ids[i]): {str(k): int(v) for k, v in placement.reasons[i].items()}
            for i in placement.unplaced.tolist()
        },
    }


_EXACT_ENGINES = ("cpsat", "lns")


def _exact_options(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Options only the CP-SAT based engines take: objective, workers, progress."""
    if name not in _EXACT_ENGINES:
        return {}
    options: dict[str, Any] = {}
    if args.objective is not None:
        options["objective"] = args.objective
    if args.workers is not None:
        options["workers"] = args.workers
    if sys.stderr.isatty():
        options["progress"] = _progress_line
    return options


def _progress_line(text: str) -> None:
    """Rewrite one status line on the terminal as the search improves."""
    print(f"\r{text[:100]:<100}", end="", file=sys.stderr, flush=True)


def _number(value: Any) -> float | int | None:
    if value is None:
        return None
    value = float(value)
    return int(value) if value.is_integer() else value


def _print_table(problem: Any, rows: list[dict]) -> None:
    """The side-by-side comparison: one line per engine."""
    best = problem.best_known
    head = [
        "engine",
        "status",
        "machines",
        "lower bound",
        "gap",
        "best known",
        "placed",
        "unplaced",
        "seconds",
        "valid",
    ]
    body = []
    for r in rows:
        gap = "-"
        if r["lower_bound"] > 0 and r["unplaced"] == 0:
            extra = r["machines_used"] - r["lower_bound"]
            gap = f"{100 * extra / r['lower_bound']:.1f}%"
        body.append(
            [
                r["engine"],
                r["status"],
                str(r["machines_used"]),
                str(r["lower_bound"]),
                gap,
                "-" if best is None else str(best),
                str(r["placed"]),
                str(r["unplaced"]),
                f"{r['seconds']:.3f}",
                "yes" if r["valid"] else "NO",
            ]
        )
    if best is None:
        head.pop(5)
        for line in body:
            line.pop(5)
    widths = [max(len(x) for x in col) for col in zip(head, *body, strict=True)]
    print(
        f"{problem.name}: {problem.n} containers, {problem.m} machines, "
        f"{_dims(problem.d)} ({', '.join(problem.resources.names)})"
    )
    for line in [head, *body]:
        cells = [
            cell.ljust(w) if k < 2 else cell.rjust(w)
            for k, (cell, w) in enumerate(zip(line, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())
    for r in rows:
        if r["reasons"]:
            first, why = next(iter(r["reasons"].items()))
            detail = ", ".join(f"{k}: {v}" for k, v in why.items())
            print(f"{r['engine']}: {r['unplaced']} unplaced, e.g. {first} ({detail})")


def _dims(d: int) -> str:
    return f"{d} dim" if d == 1 else f"{d} dims"


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError) and exc.filename is not None:
        return f"{exc.filename}: no such file"
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc}"
    return " ".join(str(exc).split())


def _fail(message: str) -> int:
    print(f"tetrimino: error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
