"""The dataset catalog: complete entries, honest checksums, published digests match."""

from __future__ import annotations

import re

import pytest

from solver.datasets.catalog import CATALOG, describe, info, list_datasets, names
from solver.datasets.fetch import sha256_of
from solver.errors import InvalidProblem

EXPECTED = {
    "bpplib",
    "vbp",
    "roadef2012",
    "alibaba2018",
    "alibaba-gpu2023",
    "google2011",
    "google2019",
    "azure2020",
}


def test_every_public_dataset_is_listed():
    """Each dataset the readers support has an entry and a summary row."""
    assert set(names()) == EXPECTED
    assert {row["name"] for row in list_datasets()} == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_entry_is_complete(name):
    """Source, licence, size and a checksum statement; digests are 64 hex or absent."""
    d = info(name)
    assert d.source
    assert d.licence
    assert d.size
    assert d.checksum_note
    for f in d.files:
        assert f.url.startswith(("http://", "https://"))
        assert f.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", f.sha256)
    if any(f.sha256 is None for f in d.files):
        assert "none" in d.checksum_note
    text = describe(name)
    assert d.licence in text
    assert d.source in text


def test_unknown_name_lists_known_ones():
    """An unknown dataset name raises InvalidProblem naming the known datasets."""
    with pytest.raises(InvalidProblem, match="alibaba2018"):
        info("nope")


@pytest.mark.needs_shared_data
def test_openb_checksums_match_published_files(shared_datasets):
    """The sha256 in the catalog are those of the published openb files."""
    folder = shared_datasets / "traces" / "alibaba_gpu_v2023"
    for f in CATALOG["alibaba-gpu2023"].files:
        path = folder / f.name
        if path.exists():
            assert sha256_of(path) == f.sha256
            assert path.stat().st_size == f.size
