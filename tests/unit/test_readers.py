"""Instance readers: BPPLIB, VBP, the problem file, sniffing, optima and bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import solver.datasets as ds
from solver import AntiAffinity, Spread
from solver.constraints import Affinity
from solver.errors import InvalidProblem
from solver.model import CORDONED, DOWN, UP

DATA = Path(__file__).resolve().parents[1] / "data"
DEMO = Path(__file__).resolve().parents[2] / "datasets" / "demo"


def write(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` and return the path."""
    path.write_text(text)
    return path


# -- BPPLIB --


def test_bpplib_reads_sizes_capacity_and_one_bin_per_item(tmp_path):
    """n, capacity and weights become one size column and n identical bins."""
    p = ds.read(write(tmp_path / "toy.txt", "4\r\n10\r\n7\r\n3\r\n5\r\n5\r\n"))
    assert p.resources.names == ("size",)
    assert p.requests[:, 0].tolist() == [7, 3, 5, 5]
    assert p.capacity.shape == (4, 1)
    assert (p.capacity == 10).all()
    assert p.name == "toy"
    assert p.metadata["format"] == "bpplib"
    assert p.best_known is None


def test_bpplib_cutting_stock_layout_expands_demands(tmp_path):
    """``weight demand`` lines become ``demand`` containers each, in file order."""
    p = ds.read(write(tmp_path / "csp.txt", "2\n10\n6 2\n4 3\n"))
    assert p.requests[:, 0].tolist() == [6, 6, 4, 4, 4]
    assert p.m == 5


@given(
    st.lists(st.integers(0, 10**9), max_size=40),
    st.integers(1, 10**9),
)
def test_bpplib_round_trip(tmp_path_factory, weights, capacity):
    """Any list of weights written in BPPLIB layout reads back unchanged."""
    path = tmp_path_factory.mktemp("bpp") / "x.txt"
    write(path, "\n".join(map(str, [len(weights), capacity, *weights])) + "\n")
    p = ds.read(path)
    assert p.requests[:, 0].tolist() == weights
    assert p.m == max(len(weights), 1)
    assert (p.capacity == capacity).all()


# -- VBP --


def test_vbp_expands_item_types_in_file_order(tmp_path):
    """Each item type with demand k becomes k containers; resources are r0..r{d-1}."""
    p = ds.read(write(tmp_path / "v.vbp", "2\n10 20\n3\n1 2 2\n3 4 0\n5 6 1\n"))
    assert p.resources.names == ("r0", "r1")
    assert p.requests.tolist() == [[1, 2], [1, 2], [5, 6]]
    assert p.capacity.tolist() == [[10, 20]] * 3
    assert p.metadata["format"] == "vbp"


@given(
    st.integers(1, 4).flatmap(
        lambda d: st.tuples(
            st.just(d),
            st.lists(st.integers(1, 1000), min_size=d, max_size=d),
            st.lists(
                st.tuples(
                    st.lists(st.integers(0, 1000), min_size=d, max_size=d),
                    st.integers(0, 3),
                ),
                max_size=15,
            ),
        )
    )
)
def test_vbp_round_trip(tmp_path_factory, instance):
    """A random .vbp file reads back as np.repeat of its item types."""
    d, capacity, types = instance
    lines = [str(d), " ".join(map(str, capacity)), str(len(types))]
    lines += [" ".join(map(str, [*sizes, k])) for sizes, k in types]
    path = write(tmp_path_factory.mktemp("vbp") / "x.vbp", "\n".join(lines) + "\n")
    p = ds.read(path)
    expected = [sizes for sizes, k in types for _ in range(k)]
    assert p.requests.tolist() == expected
    assert p.m == max(len(expected), 1)
    assert p.d == d
    assert p.resources.names == (
        ("size",) if d == 1 else tuple(f"r{k}" for k in range(d))
    )


# -- optima --


def test_best_known_comes_from_neighbouring_optima(tmp_path):
    """optima.csv in the same folder gives best_known and is_optimal."""
    write(
        tmp_path / "optima.csv", "instance,best_known,is_optimal\na,2,true\nb,3,false\n"
    )
    a = ds.read(write(tmp_path / "a.txt", "2\n10\n6\n6\n"))
    b = ds.read(write(tmp_path / "b.txt", "2\n10\n6\n6\n"))
    c = ds.read(write(tmp_path / "c.txt", "2\n10\n6\n6\n"))
    assert (a.best_known, a.metadata["is_optimal"]) == (2, True)
    assert (b.best_known, b.metadata["is_optimal"]) == (3, False)
    assert c.best_known is None
    assert "is_optimal" not in c.metadata


def test_best_known_from_a_parent_folder(tmp_path):
    """Benchmarks with sub-folders keep one optima.csv two levels up."""
    write(tmp_path / "optima.csv", "instance,best_known,is_optimal\nv,4,true\n")
    (tmp_path / "class1").mkdir()
    p = ds.read(write(tmp_path / "class1" / "v.vbp", "1\n10\n1\n6 4\n"))
    assert p.best_known == 4


def test_bad_optima_value_names_file_and_line(tmp_path):
    """A malformed optima table is bad input too."""
    write(
        tmp_path / "optima.csv", "instance,best_known,is_optimal\na,2,true\nz,x,true\n"
    )
    with pytest.raises(
        InvalidProblem, match=r"optima\.csv: line 3, field 'best_known'"
    ):
        ds.read(write(tmp_path / "z.txt", "1\n10\n6\n"))


# -- problem file --

TOML = """
name = "toy"
[resources]
cpu = "millicore"
memory = "MiB"

[[machines]]
name = "gen"
count = 2
capacity = { cpu = 4000, memory = 8192 }
labels = { zone = "a", rack = 3 }

[[machines]]
name = "gpu-box"
capacity = { cpu = 8000, memory = 16384 }
labels = { zone = "b" }
taints = ["gpu"]
state = "cordoned"

[[machines]]
name = "old"
capacity = { cpu = 1000 }
state = "down"

[[services]]
name = "web"
replicas = 3
requests = { cpu = 500, memory = 512 }
namespace = "shop"
priority = 5
spread = { topology_key = "zone", max_skew = 1 }
anti_affinity = { max_per_domain = 2 }

[[services]]
name = "cache"
replicas = 1
requests = { cpu = 250 }
node_selector = { zone = "a" }
affinity = { service = "web", topology_key = "zone", required = false }

[[containers]]
id = "job"
requests = { memory = 100 }
tolerations = ["gpu"]
machine = "gpu-box"
pinned = true

[namespaces.shop]
quota = { cpu = 3000 }
"""


def as_json(toml_text: str) -> str:
    """The same problem as JSON (via tomllib, so both files say exactly the same)."""
    import tomllib

    return json.dumps(tomllib.loads(toml_text), indent=1)


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_problem_file_fields(tmp_path, suffix):
    """Every section of the schema lands in the right Problem field, TOML or JSON."""
    text = TOML if suffix == ".toml" else as_json(TOML)
    p = ds.read(write(tmp_path / f"toy{suffix}", text))
    assert p.name == "toy"
    assert p.resources.names == ("cpu", "memory")
    assert p.resources.units == ("millicore", "MiB")
    m, c = p.machines, p.containers
    assert list(m.ids) == ["gen-0", "gen-1", "gpu-box", "old"]
    assert p.capacity.tolist() == [[4000, 8192], [4000, 8192], [8000, 16384], [1000, 0]]
    assert m.state.tolist() == [UP, UP, CORDONED, DOWN]
    assert m.label("zone").tolist() == ["a", "a", "b", None]
    assert m.label("rack").tolist() == ["3", "3", None, None]
    assert m.taint_set(2) == {"gpu"}
    assert list(c.ids) == ["web-0", "web-1", "web-2", "cache-0", "job"]
    assert p.requests.tolist() == [[500, 512]] * 3 + [[250, 0], [0, 100]]
    assert list(c.service) == ["web"] * 3 + ["cache", ""]
    assert list(c.namespace) == ["shop"] * 3 + ["default"] * 2
    assert c.priority.tolist() == [5, 5, 5, 0, 0]
    assert c.spread[0] == Spread("zone", 1)
    assert c.anti_affinity[0] == AntiAffinity("machine", 2)
    assert c.affinity[3] == Affinity("web", "zone", required=False)
    assert c.node_selector[3] == {"zone": "a"}
    assert c.tolerations_of(4) == {"gpu"}
    assert p.current.tolist() == [-1, -1, -1, -1, 2]
    assert p.pinned.tolist() == [False] * 4 + [True]
    assert p.quotas["shop"][0] == 3000
    assert p.quotas["shop"][1] == np.iinfo(np.int64).max


def test_demo_files_read():
    """The shipped demo instances read with auto-detection and have the right shape."""
    bins = ds.read(DEMO / "bins-500.txt")
    vec = ds.read(DEMO / "vector-200.vbp")
    web = ds.read(DEMO / "web-cluster.toml")
    assert (bins.n, bins.d, bins.metadata["format"]) == (500, 1, "bpplib")
    assert (vec.n, vec.d, vec.metadata["format"]) == (200, 3, "vbp")
    assert web.metadata["format"] == "toml"
    assert web.m == 36
    assert (web.machines.state == DOWN).sum() == 1
    assert set(web.machines.label("zone")) == {"a", "b", "c"}
    assert web.has_constraints


def test_demo_generator_is_deterministic(tmp_path):
    """make_demo.py rewrites exactly the committed files."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_demo", DEMO.parent / "make_demo.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.bins_500() == (DEMO / "bins-500.txt").read_text()
    assert module.vector_200() == (DEMO / "vector-200.vbp").read_text()
    assert module.web_cluster() == (DEMO / "web-cluster.toml").read_text()


# -- registry and sniffing --


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("a.txt", "2\n10\n3\n4\n", "bpplib"),
        ("a", "2\n10\n3\n4\n", "bpplib"),
        ("a.vbp", "1\n10\n1\n3 1\n", "vbp"),
        ("a.dat", "2\n10 10\n1\n3 4 1\n", "vbp"),
        ("a.toml", "", "problem"),
        ("a.json", "{}", "problem"),
        ("a.data", '{"machines": []}', "problem"),
    ],
)
def test_detect(tmp_path, name, text, expected):
    """Formats are told apart by name and by the shape of the first lines."""
    assert ds.detect(write(tmp_path / name, text)) == expected


def test_undetectable_file_is_refused(tmp_path):
    """A file no format claims names itself and the known formats."""
    with pytest.raises(
        InvalidProblem, match=r"x\.csv: line 1: cannot tell the file format"
    ):
        ds.read(write(tmp_path / "x.csv", "a,b\n1,2\n"))


def test_unknown_format_name(tmp_path):
    """An explicit unknown format lists the known ones."""
    with pytest.raises(InvalidProblem, match="known formats: auto, bpplib"):
        ds.read(write(tmp_path / "a.txt", "1\n10\n3\n"), format="nope")


def test_missing_file_raises_file_not_found(tmp_path):
    """A path that does not exist is a FileNotFoundError naming it."""
    with pytest.raises(FileNotFoundError, match=r"nowhere\.txt"):
        ds.read(tmp_path / "nowhere.txt")


def test_register_format_plugs_in_a_reader(tmp_path, monkeypatch):
    """A registered format is listed, sniffed first and used by read()."""
    monkeypatch.setattr(ds, "_FORMATS", dict(ds._FORMATS))
    bins = ds.read(write(tmp_path / "base.txt", "1\n10\n3\n"))

    def reader(path):
        return bins

    ds.register_format("mine", reader, lambda path, head: head.startswith("MINE"))
    assert "mine" in ds.formats()
    assert ds.read(write(tmp_path / "m.txt", "MINE\n")) is bins
    assert (
        ds.read(write(tmp_path / "n.txt", "1\n10\n3\n")).metadata["format"] == "bpplib"
    )


# -- bad input --

BAD = [
    ("malformed_number.txt", 4, "weight", "'12x' is not a number"),
    ("fractional_size.txt", 4, "weight", "not a whole number"),
    ("negative_size.txt", 4, "weight", "negative size -5"),
    ("wrong_item_count.txt", 11, "n", "says n=10 (line 1) but has 9 item lines"),
    ("missing_capacity.txt", 2, "capacity", "missing value"),
    ("malformed_number.vbp", 2, "capacity r1", "'1O' is not a number"),
    ("negative_size.vbp", 5, "size r1", "negative size -6"),
    ("wrong_item_count.vbp", 6, "m", "says m=2 item types (line 3) but has 3"),
    ("wrong_dimension_count.vbp", 5, "item", "expected 3 sizes and a demand, found 3"),
    ("negative_request.toml", 18, "services[1].requests.cpu", "negative amount -250"),
    (
        "negative_request.json",
        8,
        "containers[1].requests.memory",
        "negative amount -10",
    ),
    ("unknown_resource.toml", 13, "services[0].requests.gpu", "unknown resource 'gpu'"),
    ("missing_key.toml", 9, "services[0]", "missing key 'replicas'"),
    ("unknown_field.toml", 13, "services[0].anti_affinty", "unknown field"),
    ("wrong_type.json", 8, "services[1].replicas", "expected a whole number"),
    ("bad_state.toml", 11, "machines[1].state", "'broken' is not one of"),
    ("unknown_affinity_service.toml", 13, "services[0].affinity.service", "'cahce'"),
    ("unknown_machine.json", 6, "containers[1].machine", "no machine with id 'n-7'"),
]


@pytest.mark.parametrize(
    ("name", "line", "field", "words"), BAD, ids=[b[0] for b in BAD]
)
def test_bad_input_names_file_line_and_field(name, line, field, words):
    """Each tiny bad file is refused with its name, the line and the field."""
    with pytest.raises(InvalidProblem) as info:
        ds.read(DATA / name)
    message = str(info.value)
    assert message.startswith(str(DATA / name))
    assert f"line {line}, field {field!r}" in message
    assert words in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("name", "where"),
    [("invalid_syntax.toml", "line 6, column 9"), ("invalid_syntax.json", "line 3")],
)
def test_syntax_errors_name_the_line(name, where):
    """Parser errors keep their line and column."""
    with pytest.raises(InvalidProblem, match=re.escape(f"{name}: {where}")):
        ds.read(DATA / name)


@pytest.mark.parametrize(
    ("snippet", "field"),
    [
        ("[[machines]]\ncapacity = { cpu = 10 }\ncount = -1\n", "machines[0].count"),
        ("[[machines]]\ncapacity = { cpu = 1.5 }\n", "machines[0].capacity.cpu"),
        ("[[machines]]\ncapacity = { cpu = true }\n", "machines[0].capacity.cpu"),
        ("[[machines]]\ncapacity = 3\n", "machines[0].capacity"),
        ("machines = 3\n", "machines"),
        ("[[machines]]\nname = 'n'\ncount = 0\ncapacity = { cpu = 1 }\n", "machines"),
        (
            "[[machines]]\ncapacity = { cpu = 9 }\n[[services]]\nname = 's'\n"
            "replicas = 1\nrequests = { cpu = 1 }\nspread = { max_skew = 0 }\n",
            "services[0].spread.max_skew",
        ),
        (
            "[[machines]]\ncapacity = { cpu = 9 }\n[[services]]\nname = 's'\n"
            "replicas = 1\nrequests = { cpu = 1 }\n[[services]]\nname = 's'\n"
            "replicas = 1\nrequests = { cpu = 1 }\n",
            "services[1].name",
        ),
        (
            "[[machines]]\ncapacity = { cpu = 9 }\n[[containers]]\nid = 'x'\n"
            "requests = { cpu = 1 }\npinned = true\n",
            "containers[0].pinned",
        ),
        (
            "[[machines]]\ncapacity = { cpu = 9 }\n"
            "[namespaces.a]\nquota = { gpu = 1 }\n",
            "namespaces.a.quota.gpu",
        ),
    ],
)
def test_problem_file_checks(tmp_path, snippet, field):
    """Counts, amounts, types, duplicates and references are checked per field."""
    path = write(tmp_path / "p.toml", "resources = { cpu = 'millicore' }\n" + snippet)
    with pytest.raises(InvalidProblem, match=re.escape(f"field {field!r}")):
        ds.read(path)


def test_binary_file_is_refused(tmp_path):
    """Non-text bytes are reported with a line, not a UnicodeDecodeError."""
    path = tmp_path / "b.txt"
    path.write_bytes(b"3\n10\n\xff\xfe\n")
    with pytest.raises(InvalidProblem, match=r"b\.txt: line 3: not UTF-8 text"):
        ds.read(path, format="bpplib")


def test_readme_schema_example_reads(tmp_path):
    """The TOML example in datasets/README.md is a valid problem file."""
    text = (DEMO.parent / "README.md").read_text()
    block = re.search(r"```toml\n(.*?)```", text, re.DOTALL)[1]
    p = ds.read(write(tmp_path / "example.toml", block))
    assert p.n == 9
    assert p.m == 5
    assert p.pinned is not None
