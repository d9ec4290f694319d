"""Credentials from environment variables and a private secrets file; secrets stay masked."""

from __future__ import annotations

from pathlib import Path

import pytest

from zvt_pipelines.errors import ConfigError
from zvt_pipelines.venues.credentials import (
    Credentials,
    credentials_from_env,
    credentials_from_file,
    load_credentials,
)

SECRETS_YAML = """\
binance:
  apiKey: file-key-0123456789
  secret: file-secret-s3cr3t
okx:
  apiKey: okx-key-0123456789
  secret: okx-secret-s3cr3t
  password: okx-pass-phrase
"""


def write_secrets(tmp_path: Path, text: str = SECRETS_YAML, mode: int = 0o600) -> Path:
    path = tmp_path / "secrets.yaml"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_env_vars_give_key_secret_and_optional_password():
    environ = {
        "ZVT_OKX_API_KEY": "env-key-0123456789",
        "ZVT_OKX_SECRET": "env-secret",
        "ZVT_OKX_PASSWORD": "env-pass",
    }
    assert credentials_from_env("okx", environ) == Credentials(
        "env-key-0123456789", "env-secret", "env-pass"
    )
    assert credentials_from_env("binance", environ) is None


def test_env_var_names_upper_case_the_venue_id():
    environ = {"ZVT_BINANCEUSDM_API_KEY": "k" * 12, "ZVT_BINANCEUSDM_SECRET": "s" * 12}
    creds = credentials_from_env("binanceusdm", environ)
    assert creds is not None and creds.ccxt_config() == {"apiKey": "k" * 12, "secret": "s" * 12}


def test_half_set_env_vars_name_the_missing_variable_but_not_the_value():
    with pytest.raises(ConfigError, match="ZVT_BINANCE_SECRET is not set") as caught:
        credentials_from_env("binance", {"ZVT_BINANCE_API_KEY": "half-key-0123456789"})
    assert "half-key-0123456789" not in str(caught.value)


def test_secrets_file_gives_the_venue_entry(tmp_path):
    path = write_secrets(tmp_path)
    assert credentials_from_file("binance", path) == Credentials(
        "file-key-0123456789", "file-secret-s3cr3t"
    )
    assert credentials_from_file("okx", path).password == "okx-pass-phrase"
    assert credentials_from_file("kraken", path) is None


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_secrets_file_readable_by_others_is_refused(tmp_path, mode):
    path = write_secrets(tmp_path, mode=mode)
    with pytest.raises(ConfigError, match=r"group or others.*chmod 600") as caught:
        credentials_from_file("binance", path)
    assert oct(mode) in str(caught.value)
    assert "s3cr3t" not in str(caught.value)


def test_secrets_file_errors_name_the_file_and_key_without_the_secret(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="nope.yaml"):
        credentials_from_file("binance", missing)

    no_secret = write_secrets(tmp_path, "binance:\n  apiKey: only-key-0123456789\n")
    with pytest.raises(ConfigError, match=r"venue 'binance'.*'secret' is missing"):
        credentials_from_file("binance", no_secret)

    typo = write_secrets(tmp_path, "binance:\n  apikey: k-0123456789\n  secret: typo-s3cr3t\n")
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['apikey'\]") as caught:
        credentials_from_file("binance", typo)
    assert "typo-s3cr3t" not in str(caught.value)

    broken = write_secrets(tmp_path, "binance: {apiKey: k, secret: 'broken-s3cr3t\n")
    with pytest.raises(ConfigError, match="not valid YAML") as caught:
        credentials_from_file("binance", broken)
    assert "broken-s3cr3t" not in str(caught.value)


def test_load_prefers_env_vars_then_the_secrets_file(tmp_path):
    path = write_secrets(tmp_path)
    file_only = {"ZVT_SECRETS_FILE": str(path)}
    assert load_credentials("binance", file_only).api_key == "file-key-0123456789"

    both = {**file_only, "ZVT_BINANCE_API_KEY": "env-key-0123456789", "ZVT_BINANCE_SECRET": "e"}
    assert load_credentials("binance", both).api_key == "env-key-0123456789"
    assert load_credentials("binance", {}) is None


def test_repr_and_str_mask_the_secret_and_most_of_the_key():
    creds = Credentials("abcd-efgh-ijkl-mnop", "very-s3cr3t-value", "pass-phrase")
    for text in (repr(creds), str(creds), f"{creds}", repr([creds])):
        assert "very-s3cr3t-value" not in text
        assert "pass-phrase" not in text
        assert "abcd-efgh-ijkl-mnop" not in text
        assert "abcd" in text and "***" in text


@pytest.mark.parametrize("field", ["api_key", "secret"])
def test_empty_fields_are_rejected_by_name(field):
    values = {"api_key": "k" * 12, "secret": "s" * 12, field: "  "}
    with pytest.raises(ConfigError, match=field):
        Credentials(**values)
