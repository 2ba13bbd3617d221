"""What the chart tests share: the chart, loaded once with Helm's own engine."""

import shutil
from pathlib import Path

import helm_python as helm
import pytest

CHART = Path(__file__).resolve().parents[2] / "charts" / "polyteia-db-connector"


@pytest.fixture(scope="session")
def chart():
    with helm.Chart.load(CHART) as loaded:
        yield loaded


@pytest.fixture
def chart_without_schema(tmp_path):
    """The chart as `helm --skip-schema-validation` renders it: only the
    templates' own checks stand between a value and the manifests."""
    copy_dir = tmp_path / "chart"
    shutil.copytree(CHART, copy_dir)
    (copy_dir / "values.schema.json").unlink()
    with helm.Chart.load(copy_dir) as unchecked:
        yield unchecked
