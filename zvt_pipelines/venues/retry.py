"""Retrying transient failures with capped exponential backoff and jitter."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from zvt_pipelines.errors import ConfigError

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry a call that failed for a transient reason.

    The wait after failed attempt n (1-based) is `base_delay * 2**(n-1)`, capped at
    `max_delay`, of which a random fraction up to `jitter` is taken off so that many
    clients do not retry in lockstep. A server's Retry-After raises the wait, but
    never above `max_delay`.
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ConfigError(f"max_attempts {self.max_attempts!r}: must be an integer >= 1")
        if not self.base_delay >= 0:
            raise ConfigError(f"base_delay {self.base_delay!r}: must be >= 0 seconds")
        if not self.max_delay >= self.base_delay:
            raise ConfigError(
                f"max_delay {self.max_delay!r}: must be >= base_delay ({self.base_delay!r})"
            )
        if not 0 <= self.jitter <= 1:
            raise ConfigError(f"jitter {self.jitter!r}: must lie in [0, 1]")

    def delay(
        self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait after failed attempt `attempt` (1-based) before the next one."""
        backoff = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        backoff *= 1 - self.jitter * (rng or random).random()
        if retry_after is not None:
            backoff = max(backoff, retry_after)
        return min(backoff, self.max_delay)


class RetriesExhausted(Exception):
    """Every attempt failed transiently; carries the attempt count and the last error."""

    def __init__(self, attempts: int, last_error: BaseException) -> None:
        super().__init__(f"{attempts} attempt(s) failed; last error: {last_error}")
        self.attempts = attempts
        self.last_error = last_error


def call_with_retries(
    operation: Callable[[], T],
    policy: RetryPolicy,
    *,
    is_transient: Callable[[BaseException], bool],
    retry_after: Callable[[], float | None] = lambda: None,
    describe: str = "call",
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> T:
    """Run `operation`, retrying it while it fails with errors `is_transient` accepts.

    A non-transient error propagates at once; when the attempts run out,
    `RetriesExhausted` is raised from the last error. `retry_after` is asked after each
    failure for a server-requested wait in seconds (None when there is none).
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return operation()
        except Exception as exc:
            if not is_transient(exc):
                raise
            if attempt == policy.max_attempts:
                raise RetriesExhausted(attempt, exc) from exc
            wait = policy.delay(attempt, retry_after(), rng)
            log.warning(
                "%s: attempt %d/%d failed (%s); retrying in %.3f s",
                describe,
                attempt,
                policy.max_attempts,
                type(exc).__name__,
                wait,
            )
            sleep(wait)
