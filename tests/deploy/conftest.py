"""What the chart tests share: the chart, loaded once with Helm's own engine."""

from pathlib import Path

import helm_python as helm
import pytest

CHART = Path(__file__).resolve().parents[2] / "charts" / "polyteia-db-connector"


@pytest.fixture(scope="session")
def chart():
    with helm.Chart.load(CHART) as loaded:
        yield loaded
