"""A small JSON/bytes POST over urllib for the HTTP channels, mapping failures to ChannelError.

5xx, 429 and network errors are retryable; other 4xx answers are not (retrying will not help).
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping

from zvt_pipelines.errors import ChannelError


def post(channel: str, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> bytes:
    """POST `body` to `url`; the response body on 2xx, else ChannelError."""
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        retryable = exc.code >= 500 or exc.code == 429
        detail = exc.read()[:200].decode(errors="replace")
        raise ChannelError(
            channel, f"HTTP {exc.code} from {_host(url)}: {detail}", retryable=retryable
        ) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ChannelError(channel, f"cannot reach {_host(url)}: {reason}") from None


def _host(url: str) -> str:
    """Scheme and host of a URL: enough to debug, without paths that may embed secrets."""
    parsed = urllib.parse.urlsplit(url)
    return f"{parsed.scheme}://{parsed.netloc}"
