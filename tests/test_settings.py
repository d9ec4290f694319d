"""Settings from one place: every environment variable the Dagster layer reads, resolved here."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from zvt_pipelines.errors import ConfigError
from zvt_pipelines.settings import Settings, project_root


def test_defaults_keep_everything_under_zvt_home(tmp_path):
    settings = Settings.from_env({"ZVT_HOME": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'zvt.db'}"
    assert settings.mlflow_uri == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert settings.drift_threshold == Decimal("0.05")
    assert settings.rebalance_cron == "0 * * * *"


def test_environment_overrides(tmp_path):
    settings = Settings.from_env(
        {
            "ZVT_HOME": str(tmp_path),
            "MLFLOW_TRACKING_URI": "http://127.0.0.1:5000",
            "ZVT_DRIFT_THRESHOLD": "0.1",
            "ZVT_REBALANCE_CRON": "*/15 * * * *",
        }
    )
    assert settings.mlflow_uri == "http://127.0.0.1:5000"
    assert settings.drift_threshold == Decimal("0.1")
    assert settings.rebalance_cron == "*/15 * * * *"


@pytest.mark.parametrize("bad", ["abc", "0", "1.5", "-0.1", "NaN"])
def test_a_bad_drift_threshold_is_named(tmp_path, bad):
    with pytest.raises(ConfigError, match=f"ZVT_DRIFT_THRESHOLD '{bad}'"):
        Settings.from_env({"ZVT_HOME": str(tmp_path), "ZVT_DRIFT_THRESHOLD": bad})


def test_project_root_is_the_checkout_or_the_override(tmp_path):
    checkout = Path(__file__).resolve().parent.parent
    assert project_root({}) == checkout  # this test runs from the checkout
    assert project_root({"ZVT_PROJECT_ROOT": str(tmp_path)}) == tmp_path.resolve()


def test_the_database_url_reaches_dagster_as_an_env_var_when_set(tmp_path):
    import dagster as dg

    from definitions import database_url

    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    from_env = Settings.from_env({"ZVT_HOME": str(tmp_path), "ZVT_DATABASE_URL": url})
    assert database_url(from_env) == dg.EnvVar("ZVT_DATABASE_URL")
    embedded = Settings.from_env({"ZVT_HOME": str(tmp_path)})
    assert database_url(embedded) == f"sqlite:///{tmp_path / 'zvt.db'}"
