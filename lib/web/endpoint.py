"""The shape of the app's own routes: an ASGI endpoint that turns a request into a response,
or into a short plain-text error when it raises an HTTP status (never a half-written body)."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from lib.web.headers import response_headers


def error_response(status: int, detail: str, headers: Mapping[str, str] | None = None) -> Response:
    """Return a short plain-text error that browsers will not sniff or cache."""
    return Response(
        detail,
        status_code=status,
        headers={**response_headers(), **(headers or {})},
        media_type="text/plain",
    )


class Endpoint:
    """An ASGI endpoint: `get_response` returns the answer or raises HTTPException."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await self.get_response(request)
        except HTTPException as error:
            response = error_response(error.status_code, error.detail, error.headers)
        await response(scope, receive, send)

    async def get_response(self, request: Request) -> Response:
        """Given a request, return its response or raise HTTPException."""
        raise NotImplementedError
