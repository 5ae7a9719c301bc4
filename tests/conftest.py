"""Shared test configuration: hypothesis profiles and the public benchmark data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,  # the first call of a Numba kernel includes its compilation
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

SHARED_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """The public instances kept beside the repository; skips the test when absent."""
    if not SHARED_DATASETS.is_dir():
        pytest.skip("the public benchmark data (../shared/datasets) is not present")
    return SHARED_DATASETS
