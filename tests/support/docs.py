"""The README's generated sections: CLI reference (from --help), settings, metric columns.

`python -m tests.support.docs` (or `make docs`) rewrites them; tests/test_docs.py fails when they
are stale, so the docs cannot drift from the code.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

README = Path(__file__).parents[2] / "README.md"


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
        parts.append(f"#### [`{name}`](sql/{name}.sql)\n\n{template.table} Grain: {template.grain}\n")
        parts.append("| column | type | meaning |\n|---|---|---|")
        parts.extend(f"| `{c.name}` | {c.type} | {c.doc} |" for c in template.columns)
        parts.append("")
    return "\n".join(parts)


SECTIONS: dict[str, Callable[[], str]] = {"cli": cli_reference, "settings": settings_table, "metrics": metric_tables}


def render(text: str) -> str:
    for name, make in SECTIONS.items():
        pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"README.md has no <!-- {name}:start --> ... <!-- {name}:end --> section")
        text = pattern.sub(lambda m: m.group(1) + make() + m.group(2), text)
    return text


if __name__ == "__main__":
    README.write_text(render(README.read_text()))
    sys.exit(0)
