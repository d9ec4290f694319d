"""The strategy registry: the `type` names a YAML file may use, mapped to classes.

A user adds a strategy by subclassing `BaseCryptoStrategy` and decorating the class with
``@register_strategy("my_name")``; the YAML then says ``type: my_name``. The built-in
families register themselves when `zvt_pipelines.strategies` is imported, which
`get_strategy` makes sure of.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from zvt_pipelines.errors import ConfigError, UnknownStrategy
from zvt_pipelines.strategies.base import BaseCryptoStrategy

_REGISTRY: dict[str, type[BaseCryptoStrategy]] = {}


def register_strategy(
    name: str,
) -> Callable[[type[BaseCryptoStrategy]], type[BaseCryptoStrategy]]:
    """Class decorator: register a `BaseCryptoStrategy` subclass under `name`.

    Registering the same class twice is harmless (module reloads); a different class
    under a taken name is a ConfigError naming both.
    """
    if not name or not name.replace("_", "").isalnum() or not name.islower():
        raise ConfigError(f"strategy type {name!r}: use lower-case letters, digits and '_'")

    def decorate(cls: type[BaseCryptoStrategy]) -> type[BaseCryptoStrategy]:
        if not (isinstance(cls, type) and issubclass(cls, BaseCryptoStrategy)):
            raise ConfigError(f"strategy type {name!r}: {cls!r} is not a BaseCryptoStrategy")
        existing = _REGISTRY.get(name)
        if existing is not None and existing.__qualname__ != cls.__qualname__:
            raise ConfigError(
                f"strategy type {name!r} is already registered to {existing.__qualname__}; "
                f"cannot register {cls.__qualname__}"
            )
        cls.strategy_type = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def _load_builtins() -> None:
    importlib.import_module("zvt_pipelines.strategies")


def available_strategies() -> list[str]:
    """The registered type names, sorted."""
    _load_builtins()
    return sorted(_REGISTRY)


def get_strategy(name: str) -> type[BaseCryptoStrategy]:
    """The class registered under `name`; UnknownStrategy listing the known names otherwise."""
    _load_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise UnknownStrategy(f"unknown strategy type {name!r}; known types: {known}") from None
