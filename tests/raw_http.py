"""Raw HTTP to a running app: the path goes out byte for byte, as a hostile client sends it."""

from __future__ import annotations

import http.client
from email.message import Message
from urllib.parse import urlsplit


def raw_get(
    app_url: str, path: str, headers: dict[str, str] | None = None
) -> tuple[int, bytes, Message]:
    """Send `path` byte for byte (no client-side normalisation) and return status, body, headers."""
    parts = urlsplit(app_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.putrequest("GET", path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read(), response.headers
    finally:
        connection.close()
