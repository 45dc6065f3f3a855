"""The links and anchors of a markdown page, read by a CommonMark parser (markdown-it-py), so
that code blocks and code spans are not taken for links."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.token import Token

_PARSER = MarkdownIt("commonmark").enable("table")
#: A link with a scheme (https:, mailto:) leaves the repository.
_EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def _tokens(path: Path) -> list[Token]:
    return _PARSER.parse(path.read_text(encoding="utf-8"))


def links(path: Path) -> Iterator[str]:
    """Every link and image target of the page that stays in the repository, as written."""
    for token in _tokens(path):
        for child in token.children or ():
            target = child.attrGet("href") if child.type == "link_open" else child.attrGet("src") if child.type == "image" else None
            if isinstance(target, str) and not _EXTERNAL.match(target):
                yield target


def slug(title: str) -> str:
    """A heading's anchor as GitHub makes it: lowercase, punctuation dropped (letters, digits,
    `_`, `-` and spaces stay), spaces turned into hyphens."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors of the page's headings; a repeated one gets -1, -2, ... as on GitHub."""
    found: set[str] = set()
    tokens = _tokens(path)
    for opening, inline in zip(tokens, tokens[1:]):
        if opening.type != "heading_open":
            continue
        title = "".join(child.content for child in inline.children or () if child.type in ("text", "code_inline"))
        anchor, n = slug(title), 0
        while anchor in found:
            n += 1
            anchor = f"{slug(title)}-{n}"
        found.add(anchor)
    return found
