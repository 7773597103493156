"""`<base>/session/<ticket>`: where the browser is sent to be signed in or out.

The page run that signed someone in cannot set an HttpOnly cookie (only the HTTP answer can),
so it mints a one-time ticket (lib/session_cookie.py) and sends the browser here. This route
takes the ticket and answers 303 back to the page with `Set-Cookie`: the session cookie for a
sign-in, its removal for a sign-out. Either way Streamlit's own OpenID cookies
(`_streamlit_user`, `_streamlit_user_tokens`: 30 days, not Secure, not revocable) are removed:
they live only for the seconds between the provider's answer and this route. A ticket that is
unknown, taken or expired sends the browser to `?signin=expired`, with no cookie, so a page
cannot loop.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from lib.links import SESSION_PREFIX
from lib.session_cookie import SESSION_COOKIE, SessionCookies, TicketKind, Tickets
from lib.web.headers import response_headers

STREAMLIT_USER_COOKIES = ("_streamlit_user", "_streamlit_user_tokens")
EXPIRED_QUERY = "?signin=expired"


def is_https(request: Request) -> bool:
    """Return whether the browser reached the app over HTTPS: directly, or through a proxy
    (a TLS load balancer) that says so in `X-Forwarded-Proto`."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


class SessionEndpoint:
    """Takes a ticket and sets or clears the session cookie."""

    def __init__(self, tickets: Tickets, cookies: SessionCookies, base: str = "") -> None:
        self._tickets = tickets
        self._cookies = cookies
        self._base = base.rstrip("/")
        self._path = self._base or "/"

    async def answer(self, request: Request) -> Response:
        """Take the ticket in the path; answer 303 with the cookie set or cleared."""
        ticket = await run_in_threadpool(self._tickets.take, request.path_params["ticket"])
        home = f"{self._base}/"
        if ticket is None:
            response = RedirectResponse(home + EXPIRED_QUERY, 303, headers=response_headers())
        else:
            response = RedirectResponse(home + ticket.query, 303, headers=response_headers())
        secure = is_https(request)
        if ticket is not None and ticket.kind is TicketKind.SIGN_IN and ticket.session:
            response.set_cookie(
                SESSION_COOKIE,
                self._cookies.issue(ticket.session),
                max_age=self._cookies.max_age,
                path=self._path,
                secure=secure,
                httponly=True,
                samesite="lax",
            )
        elif ticket is not None:
            response.delete_cookie(
                SESSION_COOKIE, path=self._path, secure=secure, httponly=True, samesite="lax"
            )
        for name in STREAMLIT_USER_COOKIES:
            if name in request.cookies:
                response.delete_cookie(name, path=self._path, httponly=True, samesite="lax")
        return response


def session_routes(endpoint: SessionEndpoint, base: str = "") -> list[Route]:
    """Return the route taking tickets, at `/session/` and (under a base path) below it."""
    paths = dict.fromkeys([SESSION_PREFIX, f"{base.rstrip('/')}{SESSION_PREFIX}"])
    return [Route(f"{path}/{{ticket}}", endpoint.answer, methods=["GET"]) for path in paths]
