"""Running the entry script, streamlit_app.py, as `streamlit run` imports it."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO, app_env


def run_app_script(*flags: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Import streamlit_app as `streamlit run` would, with these flags, and report how it ended."""
    code = (
        "import runpy, sys; sys.argv = ['streamlit_app.py', *sys.argv[1:]]; "
        "runpy.run_path('streamlit_app.py', run_name='streamlit_app')"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *flags],
        cwd=REPO,
        env=env or app_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
