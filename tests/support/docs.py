"""The generated sections of the docs: the CLI reference (from --help) in docs/cli.md, the
settings table in docs/configuration.md, the metric templates' columns in docs/sql.md.

Each section sits between `<!-- name:start -->` and `<!-- name:end -->` in its page.
`python -m tests.support.docs` (or `make docs`) rewrites them; tests/test_docs.py fails when they
are stale, so the docs cannot drift from the code.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

ROOT = Path(__file__).parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def cli_reference() -> str:
    from crm_metrics.cli import _parser

    os.environ["COLUMNS"] = "100"
    parser = _parser()
    blocks = [("crm-metrics --help", parser.format_help())]

    def walk(prefix: str, parser: argparse.ArgumentParser) -> None:
        for name, sub in _subparsers(parser).items():
            nested = _subparsers(sub)
            if nested:
                walk(f"{prefix} {name}", sub)
            else:
                blocks.append((f"{prefix} {name} --help", sub.format_help()))

    walk("crm-metrics", parser)
    return "\n".join(f"```\n$ {title}\n{text.rstrip()}\n```\n" for title, text in blocks)


def _default(value: object) -> str:
    """How a default reads in the table: unset for empty strings and tuples, JSON-ish bools."""
    if value in ("", ()):
        return "(unset)"
    return f"`{str(value).lower() if isinstance(value, bool) else value}`"


def settings_table() -> str:
    from crm_metrics.config import SETTINGS

    rows = ["| variable | default | what it does |", "|---|---|---|"]
    rows += [f"| `{s.env}` | {_default(s.default)} | {s.help} |" for s in SETTINGS.values()]
    try:
        from server.config import SETTINGS as SERVER_SETTINGS  # the HTTP server's own
    except ImportError:
        SERVER_SETTINGS = {}
    rows += [f"| `{s.env}` | {_default(s.default)} | {s.help} |" for s in SERVER_SETTINGS.values()]
    return "\n".join(rows) + "\n"


def metric_tables() -> str:
    from crm_metrics import templates

    parts = []
    for name in templates.names():
        template = templates.load(name)
        # Linked from docs/sql.md, where this section lives.
        parts.append(f"### [`{name}`](../sql/{templates.METRICS}/{name}.sql)\n\n{template.table} Grain: {template.grain}\n")
        parts.append("| column | type | meaning |\n|---|---|---|")
        parts.extend(f"| `{c.name}` | {c.type} | {c.doc} |" for c in template.columns)
        parts.append("")
    return "\n".join(parts)


Sections = Mapping[str, Callable[[], str]]

#: Every generated section, by the page it lives in.
PAGES: dict[Path, Sections] = {
    DOCS / "cli.md": {"cli": cli_reference},
    DOCS / "configuration.md": {"settings": settings_table},
    DOCS / "sql.md": {"metrics": metric_tables},
}

#: A section's markers, whatever its name.
MARKER = re.compile(r"<!-- ([\w-]+):(start|end) -->")


def render(page: Path, text: str) -> str:
    """`text` of `page` with each of its generated sections made anew."""
    for name, make in PAGES[page].items():
        pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"{page.relative_to(ROOT)} has no <!-- {name}:start --> ... <!-- {name}:end --> section")
        text = pattern.sub(lambda m: m.group(1) + make() + m.group(2), text)
    return text


def main() -> int:
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        made = render(page, text)
        if made != text:
            page.write_text(made, encoding="utf-8")
            print(f"rewrote {page.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
