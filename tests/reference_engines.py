"""Import backtrader/vectorbt for the parity tests: skipped on a machine without the
`bench` extra, an error in CI (environment variable CI exactly ``true``), where `make
test` installs every extra, so a parity test can never pass by being skipped there."""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest


def reference_engine(name: str) -> ModuleType:
    """The module `name`; in CI a missing one raises ImportError, elsewhere the test skips."""
    if os.environ.get("CI") == "true":
        return importlib.import_module(name)
    return pytest.importorskip(name)
