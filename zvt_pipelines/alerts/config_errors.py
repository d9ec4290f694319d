"""Turn pydantic validation errors into AlertConfigError messages that name the key and value."""

from __future__ import annotations

from pydantic import ValidationError

from zvt_pipelines.errors import AlertConfigError


def config_error(source: str, error: ValidationError) -> AlertConfigError:
    """An AlertConfigError listing each bad field as `key.path = value: reason`."""
    problems = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "<root>"
        problems.append(f"{key} = {item.get('input')!r}: {item['msg']}")
    return AlertConfigError(f"{source}: " + "; ".join(problems))
