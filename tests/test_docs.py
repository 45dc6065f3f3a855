"""The README's generated sections match the code (`make docs` rewrites them)."""

from __future__ import annotations

from tests.readme import README, render


def test_readme_sections_are_current() -> None:
    text = README.read_text()
    assert render(text) == text, "README.md is stale: run `make docs` and commit the result"


def test_readme_starts_with_the_quickstart() -> None:
    text = README.read_text()
    assert text.index("make run") < text.index("make test") < text.index("crm-metrics query")
