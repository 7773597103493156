"""Every setting is documented where a user looks: README's settings table and `--help`
(as Datasette checks its settings are documented)."""

from __future__ import annotations

import re

import pytest

from lib.settings import OPTIONS, build_parser
from tests.conftest import REPO

ROW = re.compile(r"^\| `(--[a-z_]+)[^`]*` \| `(HOMEMOVIES_[A-Z_]+)` \| (.+) \|$")


def readme_rows() -> dict[str, tuple[str, str]]:
    """README's settings table: flag -> (variable, meaning)."""
    rows = {}
    for line in (REPO / "README.md").read_text().splitlines():
        match = ROW.match(line.strip())
        if match:
            rows[match[1]] = (match[2], match[3])
    return rows


@pytest.mark.parametrize("option", OPTIONS, ids=lambda option: option.name)
def test_every_setting_has_a_row_in_the_readme(option):
    rows = readme_rows()
    assert option.flag in rows, f"README's settings table has no row for {option.flag}"
    variable, meaning = rows[option.flag]
    assert variable == option.env
    assert meaning.strip()


def test_the_readme_documents_no_setting_that_does_not_exist():
    assert set(readme_rows()) == {option.flag for option in OPTIONS}


@pytest.mark.parametrize("option", OPTIONS, ids=lambda option: option.name)
def test_every_setting_is_in_help_with_its_variable(option):
    text = one_line(build_parser().format_help())
    assert option.flag in text
    assert f"[{option.env}]" in text
    assert one_line(option.help) in text


def one_line(text: str) -> str:
    """`text` without its line breaks (argparse also breaks lines after a hyphen)."""
    return re.sub(r"-\s+", "-", " ".join(text.split()))
