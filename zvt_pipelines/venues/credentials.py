"""Venue API credentials, read only from environment variables or a private secrets file.

For venue `binance` the variables are `ZVT_BINANCE_API_KEY`, `ZVT_BINANCE_SECRET` and the
optional `ZVT_BINANCE_PASSWORD`. Otherwise `ZVT_SECRETS_FILE` may name a YAML file
mapping venue -> {apiKey, secret, password}; like ssh, a file that group or others may
read is refused. Secret values never appear in reprs, logs or error messages.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from zvt_pipelines.errors import ConfigError

SECRETS_FILE_VAR = "ZVT_SECRETS_FILE"
_FILE_KEYS = ("apiKey", "secret", "password")


@dataclass(frozen=True, repr=False)
class Credentials:
    """An API key with its secret (and passphrase, for venues that need one)."""

    api_key: str
    secret: str
    password: str | None = None

    def __post_init__(self) -> None:
        for name in ("api_key", "secret"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"credentials field {name!r}: must be a non-empty string")
        if self.password is not None and not isinstance(self.password, str):
            raise ConfigError("credentials field 'password': must be a string")

    def __repr__(self) -> str:
        password = ", password='***'" if self.password else ""
        return f"Credentials(api_key={_mask_key(self.api_key)!r}, secret='***'{password})"

    __str__ = __repr__

    def ccxt_config(self) -> dict[str, str]:
        """The `apiKey`/`secret`/`password` entries of a ccxt exchange config."""
        config = {"apiKey": self.api_key, "secret": self.secret}
        if self.password:
            config["password"] = self.password
        return config


def _mask_key(api_key: str) -> str:
    """Enough of the key to tell keys apart (its first 4 characters), never the whole key."""
    return api_key[:4] + "…" if len(api_key) > 8 else "***"


def env_prefix(venue: str) -> str:
    """`ZVT_<VENUE>_`: the venue id upper-cased, other characters than A-Z/0-9 as `_`."""
    return "ZVT_" + re.sub(r"[^A-Z0-9]", "_", venue.upper()) + "_"


def credentials_from_env(venue: str, environ: Mapping[str, str] = os.environ) -> Credentials | None:
    """Credentials from `ZVT_<VENUE>_API_KEY`/`_SECRET`/`_PASSWORD`; None when neither is set."""
    prefix = env_prefix(venue)
    key_var, secret_var = prefix + "API_KEY", prefix + "SECRET"
    api_key, secret = environ.get(key_var), environ.get(secret_var)
    if not api_key and not secret:
        return None
    if not api_key or not secret:
        missing = key_var if not api_key else secret_var
        present = secret_var if not api_key else key_var
        raise ConfigError(
            f"{missing} is not set (or empty) while {present} is; set both or neither"
        )
    return Credentials(api_key, secret, environ.get(prefix + "PASSWORD") or None)


def credentials_from_file(venue: str, path: str | Path) -> Credentials | None:
    """Credentials of `venue` from a YAML secrets file; None when the file has no such venue.

    The file must be readable by its owner only (mode 600 or 400).
    """
    path = Path(path).expanduser()
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"secrets file {str(path)!r}: cannot be read ({exc.strerror})") from None
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"secrets file {str(path)!r}: permissions {stat.filemode(mode)} "
            f"({oct(mode & 0o777)}) let group or others access it; "
            f"run `chmod 600 {path}`"
        )
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        # a YAML error quotes the offending line, which may hold a secret: show its position only
        where = getattr(exc, "problem_mark", None)
        detail = f"line {where.line + 1}" if where is not None else type(exc).__name__
        raise ConfigError(f"secrets file {str(path)!r}: not valid YAML ({detail})") from None
    if document is None:
        return None
    if not isinstance(document, dict):
        raise ConfigError(f"secrets file {str(path)!r}: expected a mapping of venue -> credentials")
    entry = document.get(venue)
    if entry is None:
        return None
    return _credentials_from_entry(entry, f"secrets file {str(path)!r}, venue {venue!r}")


def _credentials_from_entry(entry: Any, where: str) -> Credentials:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a mapping with keys {', '.join(_FILE_KEYS)}")
    unknown = sorted(str(k) for k in entry if k not in _FILE_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; expected {', '.join(_FILE_KEYS)}")
    for key in _FILE_KEYS:
        if key in entry and entry[key] is not None and not isinstance(entry[key], str):
            raise ConfigError(f"{where}: key {key!r} must be a string (quote it in the YAML)")
    for key in ("apiKey", "secret"):
        if not entry.get(key):
            raise ConfigError(f"{where}: key {key!r} is missing or empty")
    return Credentials(entry["apiKey"], entry["secret"], entry.get("password") or None)


def load_credentials(venue: str, environ: Mapping[str, str] = os.environ) -> Credentials | None:
    """The venue's credentials: environment variables first, then `ZVT_SECRETS_FILE`; else None."""
    from_env = credentials_from_env(venue, environ)
    if from_env is not None:
        return from_env
    secrets_file = environ.get(SECRETS_FILE_VAR)
    return credentials_from_file(venue, secrets_file) if secrets_file else None
