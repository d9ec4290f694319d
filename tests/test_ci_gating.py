"""CI gating of the PostgreSQL tests: only `CI=true` turns a missing server into a failure."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import require_postgres, running_in_ci


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"CI": "true"}, True),
        ({"CI": "false"}, False),
        ({"CI": "0"}, False),
        ({"CI": ""}, False),
        ({"CI": "True"}, False),  # GitHub Actions and GitLab set exactly "true"
        ({}, False),
    ],
)
def test_only_ci_exactly_true_counts_as_ci(env, expected):
    assert running_in_ci(env) is expected


@pytest.fixture
def dead_url() -> str:
    """A PostgreSQL URL on a local port where nothing listens (bound, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"postgresql+psycopg2://postgres@127.0.0.1:{port}/test"


def test_missing_server_fails_in_ci(dead_url):
    with pytest.raises(pytest.fail.Exception, match="CI must have PostgreSQL"):
        require_postgres(dead_url, {"CI": "true"})


@pytest.mark.parametrize("env", [{"CI": "false"}, {}])
def test_missing_server_skips_outside_ci(dead_url, env):
    with pytest.raises(pytest.skip.Exception, match="no PostgreSQL server answers"):
        require_postgres(dead_url, env)


@pytest.mark.postgres
def test_a_live_server_is_returned_even_in_ci(pg_url):
    assert require_postgres(pg_url, {"CI": "true"}) == pg_url
