"""Public datasets tetrimino can read: origin, licence, size and files of each.

The catalog is data: URLs and checksums as the publishers give them. ``sha256`` is
``None`` where no stable file or published checksum exists;
:func:`solver.datasets.fetch.fetch` then downloads without verifying and says so.
Nothing here touches the network.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidProblem

#: Instance families of BPPLIB and the Vectorpack benchmarks, as folders under a data
#: root (``<dataset>/<family>/`` holding the instance files and an ``optima.csv``).
BENCHMARK_FAMILIES = (
    "bpplib/falkenauer_t",
    "bpplib/falkenauer_u",
    "bpplib/hard28",
    "bpplib/scholl_1",
    "bpplib/scholl_2",
    "bpplib/scholl_3",
    "bpplib/schwerin_1",
    "bpplib/schwerin_2",
    "bpplib/waescher",
    "vbp_vectorpack/new",
    "vbp_vectorpack/panigrahy",
    "vbp_vectorpack/triplet",
)


@dataclass(frozen=True)
class DatasetFile:
    """One downloadable file: its name in the cache, URL, sha256 (or None) and size."""

    name: str
    url: str
    sha256: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class Dataset:
    """A public dataset: what it is, where it comes from and what fetching it gets."""

    name: str
    title: str
    source: str
    licence: str
    size: str
    reader: str
    files: tuple[DatasetFile, ...] = ()
    checksum_note: str = ""
    notes: str = ""

    def summary(self) -> dict[str, object]:
        """One row for ``tetrimino datasets list``."""
        return {
            "name": self.name,
            "title": self.title,
            "licence": self.licence,
            "size": self.size,
            "files": len(self.files),
            "fetchable": bool(self.files),
        }


_GH = "https://raw.githubusercontent.com"
_OPENB = f"{_GH}/alibaba/clusterdata/master/cluster-trace-gpu-v2023/csv"
_OPENB_FILES = (
    (
        "openb_node_list_all_node.csv",
        "5a85c2af79c66a1efff8bbcbda430400aae56d8431370d738480967e1a9c6b15",
        52287,
    ),
    (
        "openb_node_list_gpu_node.csv",
        "2beca64b4d3dfa342036a34b56a495c6cef9225db836c81f541282cb1df320b5",
        42353,
    ),
    (
        "openb_pod_list_cpu0.csv",
        "1bc3fd9ee5c1468ccd018f624d9222746e08d59f963f66b925804734271c0eaa",
        499765,
    ),
    (
        "openb_pod_list_cpu037.csv",
        "8ed554026d041b15ff21ddc104d9a21dbd9a93c496262fa23ef7b5be27e220dc",
        518687,
    ),
    (
        "openb_pod_list_cpu072.csv",
        "f8a2b031461b54d7b9f06d55473c2371eb3357b78a255c646bdca5e0833a8a2f",
        537576,
    ),
    (
        "openb_pod_list_cpu100.csv",
        "bec1c33fbdde61fd463877534ec79b393aec73e1cbb22d55fab9f166ac480982",
        554709,
    ),
    (
        "openb_pod_list_cpu235.csv",
        "87bebd4d012faa8305ce1fd82737f51cf03361aac28b75d42e34aa656d7f4ee0",
        651171,
    ),
    (
        "openb_pod_list_cpu250.csv",
        "134c21ff96d57533df8a37b67632972884fec9396e77cd0898ddc370cc8e607d",
        663708,
    ),
    (
        "openb_pod_list_default.csv",
        "1ee7ed79c27a3b0861cda8ddba86a004c6aba904caafa329a76ae93ca63834a8",
        575468,
    ),
    (
        "openb_pod_list_gpushare100.csv",
        "12dbc07d6a49bf8641e2275a2ff5bf7be74b5df7d148d531e135b140b95f9a3d",
        561220,
    ),
    (
        "openb_pod_list_gpushare20.csv",
        "9be2d0efb52e242c32e23dd184cc5fcc1983478c6c9c02cbb6b4b62925c0ffcd",
        574603,
    ),
    (
        "openb_pod_list_gpushare40.csv",
        "d83ce79a4eb6987524bedbb0c65e41aed3a36bf6c1b78b86234c3687a07e1d40",
        572662,
    ),
    (
        "openb_pod_list_gpushare80.csv",
        "88b6649369ced40d0fde287d2498ea61ff4b05fccba8bdc95daf6042f2f8431e",
        563740,
    ),
    (
        "openb_pod_list_gpuspec05.csv",
        "8f1c0ef7e4e511e982bd2818898ba22ee6d273bf5fce124b7ace285b5928cf4e",
        577176,
    ),
    (
        "openb_pod_list_gpuspec10.csv",
        "2dc7e4cb9480484f08539720b433a9ec9ab5d76b396f3f7557c53a2ff78a7611",
        579461,
    ),
    (
        "openb_pod_list_gpuspec25.csv",
        "9d030679a2ccd7e27a7ec9ff15baff34480d22a0012515691fc187e3f35ee68c",
        584915,
    ),
    (
        "openb_pod_list_gpuspec33.csv",
        "eca4f746db1e5b25864ad021b55ece3943e101a3ebd4574d09dcb95c46117652",
        587467,
    ),
    (
        "openb_pod_list_multigpu20.csv",
        "d9ec6f6c74fb980cc0b81239470c6353fceea077ea9abd610003b604c7cc2b01",
        271530,
    ),
    (
        "openb_pod_list_multigpu30.csv",
        "a5e479c6444b1d83eef848159cf00c3cfa13441b2d1e2c113c391b91f1cc5b11",
        277920,
    ),
    (
        "openb_pod_list_multigpu50.csv",
        "206f2f5959db30ecb7c44e7f13197c8ec50b7a35558ad3777cc3662ef0fe5373",
        297219,
    ),
)
_ALI2018 = "http://aliopentrace.oss-cn-beijing.aliyuncs.com/v2018Traces"
_ALI2018_FILES = (
    (
        "machine_meta.tar.gz",
        "b5b1b786b22cd413a3674b8f2ebfb2f02fac991c95df537f363ef2797c8f6d55",
    ),
    (
        "container_meta.tar.gz",
        "febd75e693d1f208a8941395e7faa7e466e50d21c256eff12a815b7e2fa2053f",
    ),
    (
        "batch_task.tar.gz",
        "7c4b32361bd1ec2083647a8f52a6854a03bc125ca5c202652316c499fbf978c6",
    ),
    (
        "batch_instance.tar.gz",
        "e73e5a9326669aa079ba20048ddd759383cabe1fe3e58620aa75bd034e2450c6",
    ),
)
_VBP = "https://github.com/Vectorpack/experiments_vector_paper/raw/main/data"

CATALOG: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            name="bpplib",
            title=(
                "BPPLIB one-dimensional bin packing library (Delorme, Iori, Martello)"
            ),
            source="https://github.com/mdelorme2/BPPLIB (Instances/Benchmarks/)",
            licence="CC BY-NC-ND 4.0",
            size="not stated (repository archive)",
            reader="bpplib",
            files=(
                DatasetFile(
                    "BPPLIB-master.zip",
                    "https://github.com/mdelorme2/BPPLIB/archive/refs/heads/master.zip",
                ),
            ),
            checksum_note="none published (a branch archive is not a stable file)",
        ),
        Dataset(
            name="vbp",
            title="Vectorpack vector bin packing benchmarks (Panigrahy, New, Triplet)",
            source="https://github.com/Vectorpack/experiments_vector_paper (data/)",
            licence="MIT",
            size="three .tar.gz archives",
            reader="vbp",
            files=tuple(
                DatasetFile(f"{k}_instances.tar.gz", f"{_VBP}/{k}_instances.tar.gz")
                for k in ("Panigrahy", "New", "Triplet")
            ),
            checksum_note="none published",
        ),
        Dataset(
            name="roadef2012",
            title="ROADEF/EURO 2012 Google machine reassignment (sets A and B)",
            source="https://github.com/wjaskowski/roadef-challange-2012-public (data/)",
            licence=(
                "none stated (published by Google and ROADEF/EURO for the challenge)"
            ),
            size="not stated (repository archive)",
            reader="roadef",
            files=(
                DatasetFile(
                    "roadef-challange-2012-public-master.zip",
                    "https://github.com/wjaskowski/roadef-challange-2012-public/archive/"
                    "refs/heads/master.zip",
                ),
            ),
            checksum_note="none published (a branch archive is not a stable file)",
        ),
        Dataset(
            name="alibaba2018",
            title=(
                "Alibaba cluster-trace-v2018 (4000 machines, 8 days, co-located jobs)"
            ),
            source="https://github.com/alibaba/clusterdata/tree/master/cluster-trace-v2018",
            licence="none stated; cite the Alibaba Open Cluster Trace Program",
            size="98 GB compressed in six files (280 GB extracted); the four tables "
            "listed here are about 20 GB, almost all batch_instance",
            reader="alibaba2018",
            files=tuple(
                DatasetFile(n, f"{_ALI2018}/{n}", s) for n, s in _ALI2018_FILES
            ),
            checksum_note="sha256 published in the trace's trace_2018.md",
            notes=(
                "Each .tar.gz holds one headerless CSV table; extract before reading."
            ),
        ),
        Dataset(
            name="alibaba-gpu2023",
            title=(
                "Alibaba GPU cluster trace v2023 'openb' (1523 nodes, 8152-pod lists)"
            ),
            source="https://github.com/alibaba/clusterdata/tree/master/"
            "cluster-trace-gpu-v2023/csv",
            licence="none stated for this folder (its sibling v2020 is CC BY 4.0)",
            size="about 10 MB (node lists and 18 pod lists)",
            reader="openb",
            files=tuple(
                DatasetFile(n, f"{_OPENB}/{n}", s, b) for n, s, b in _OPENB_FILES
            ),
            checksum_note="sha256 of the files as published in the repository",
            notes="Paper: Weng et al., USENIX ATC 2023 (FGD). Six further pod lists of "
            "the repository are not listed here.",
        ),
        Dataset(
            name="google2011",
            title=(
                "Google cluster data 2011 (clusterdata-2011-2: 12.5k machines, 29 days)"
            ),
            source="https://github.com/google/cluster-data/blob/master/"
            "ClusterData2011_2.md (bucket gs://clusterdata-2011-2)",
            licence="CC BY 4.0",
            size=(
                "about 41 GB compressed (all tables); machine_events is one small file"
            ),
            reader="google2011",
            files=(
                DatasetFile(
                    "machine_events/part-00000-of-00001.csv.gz",
                    "https://storage.googleapis.com/clusterdata-2011-2/machine_events/"
                    "part-00000-of-00001.csv.gz",
                ),
            ),
            checksum_note="none pinned here (the bucket carries a SHA256SUM file); "
            "task_events has 500 parts: fetch them with gsutil",
        ),
        Dataset(
            name="google2019",
            title="Google cluster data 2019 (8 Borg cells, May 2019)",
            source="https://github.com/google/cluster-data/blob/master/ClusterData2019.md",
            licence="CC BY 4.0",
            size="about 2.4 TiB compressed; served through Google BigQuery only",
            reader="google2019",
            checksum_note="none published: export tables from BigQuery as JSON lines "
            "(machine_events*, instance_events*) and read the folder",
        ),
        Dataset(
            name="azure2020",
            title="Azure packing trace 2020 (Protean, OSDI 2020)",
            source="https://github.com/Azure/AzurePublicDataset/blob/master/"
            "AzureTracesForPacking2020.md",
            licence="CC BY 4.0",
            size="one zip holding a SQLite database (size not stated by the publisher)",
            reader="azure2020",
            files=(
                DatasetFile(
                    "AzurePackingTraceV1.zip",
                    "https://azurepublicdatasettraces.blob.core.windows.net/"
                    "azurepublicdatasetv2/azurevmallocation_dataset2020/AzurePackingTraceV1.zip",
                ),
            ),
            checksum_note="none published",
        ),
    )
}


def names() -> list[str]:
    """Every dataset name the catalog knows."""
    return list(CATALOG)


def info(name: str) -> Dataset:
    """The catalog entry ``name``; an unknown name lists the known ones."""
    try:
        return CATALOG[name]
    except KeyError:
        raise InvalidProblem(
            f"unknown dataset {name!r}; known datasets: {', '.join(names())}"
        ) from None


def list_datasets() -> list[dict[str, object]]:
    """One summary row per dataset (``tetrimino datasets list``)."""
    return [d.summary() for d in CATALOG.values()]


def describe(name: str) -> str:
    """A readable description of dataset ``name`` (``tetrimino datasets info NAME``)."""
    d = info(name)
    lines = [
        f"{d.name}: {d.title}",
        f"  source:   {d.source}",
        f"  licence:  {d.licence}",
        f"  size:     {d.size}",
        f"  reader:   {d.reader}",
        f"  checksum: {d.checksum_note}",
    ]
    if d.notes:
        lines.append(f"  notes:    {d.notes}")
    if d.files:
        lines.append("  files:")
        for f in d.files:
            digest = f.sha256 or "no checksum"
            lines.append(f"    {f.name}  {digest}")
            lines.append(f"      {f.url}")
    else:
        lines.append("  files:    none downloadable over HTTP")
    return "\n".join(lines)
