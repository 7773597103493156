"""The app's own routes in-process, for HTTP tests: what `streamlit_app.py` serves beside the pages.

Only one Streamlit runtime can exist in a process, so the routes and middleware the factory
gives production are served here by a plain Starlette app, without Streamlit's own routes
(tests/test_app.py checks that production and this serve the same routes).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.testclient import TestClient

from lib.app import middleware, routes
from lib.services import Services


def http_app(services: Services) -> Starlette:
    """Return the app's routes and middleware for `services` as one ASGI app."""
    return Starlette(routes=routes(services), middleware=middleware(services))


def client_for(services: Services) -> TestClient:
    """Return a test client of `http_app(services)` (use it as a context manager)."""
    return TestClient(http_app(services))
