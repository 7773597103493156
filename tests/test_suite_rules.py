"""Rules of the test suite itself: what tests share lives in helper modules, not in tests."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO


def imported_test_modules(source: str, path: Path) -> list[str]:
    """Return the `tests.test_*` modules the Python source at `path` imports."""
    package = path.parent.relative_to(REPO).parts
    found = []
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from .test_x import y, from . import test_x
                base = ".".join(package[: len(package) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            names = [module, *(f"{module}.{alias.name}" for alias in node.names)]
        else:
            continue
        found += [name for name in names if name.startswith("tests.test_")]
    return found


def test_no_test_module_imports_another_test_module():
    offenders = {}
    for path in sorted([*REPO.glob("tests/*.py"), *REPO.glob("bench/*.py")]):
        imported = imported_test_modules(path.read_text(), path)
        if imported:
            offenders[path.relative_to(REPO).as_posix()] = imported
    assert offenders == {}, "move what these share into a helper module under tests/"


def test_the_rule_sees_every_way_of_importing_a_test_module():
    here = REPO / "tests" / "test_x.py"
    sources = [
        "from tests.test_media_http import SIGNER",
        "import tests.test_stats",
        "from tests import test_stats",
        "from .test_stats import TITLES",
        "from . import test_stats",
    ]
    assert [bool(imported_test_modules(source, here)) for source in sources] == [True] * 5
    assert imported_test_modules("from tests.stats_library import TITLES", here) == []
