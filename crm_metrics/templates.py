"""SQL templates: the `.sql` files, their comment headers, and Jinja rendering.

Each template is BigQuery SQL with `@name` parameters and a comment header (aiosql style):
`name`, `table`, `grain`, then `params` and `columns`, one per line with a type. The header is
the single source of the parameter and column types used by the compiler, the executors and
the result models. Jinja shapes a query (`outlet`, `granularity`); it never sees a value.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import jinja2

from crm_metrics.errors import TemplateError
from crm_metrics.query import Field

#: Types a header may use (BigQuery names) and nothing else.
SQL_TYPES = frozenset({"STRING", "DATE", "TIMESTAMP", "INT64", "FLOAT64", "BOOL"})
GRANULARITIES = ("day", "week", "month")
#: Where the rows come from: the seed's tables as users have them, the derived tables (the
#: embedded store's; PostgreSQL's after `init-db --rollup`), or their rollup (see sql/_macros.sql).
LAYOUTS = ("seed", "facts", "rollup")


def sql_dir() -> Path:
    """Where the templates live: inside the installed package, or `sql/` of a checkout."""
    packaged = Path(__file__).parent / "sql"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "sql"


@dataclass(frozen=True)
class Template:
    name: str
    path: Path
    table: str
    grain: str
    params: tuple[Field, ...]
    columns: tuple[Field, ...]
    source: str

    def header(self) -> str:
        """The comment header as written in the file."""
        lines = []
        for line in self.source.splitlines():
            if not line.startswith("--"):
                break
            lines.append(line)
        return "\n".join(lines)


_SECTION = re.compile(r"^--\s(\w+):\s*(.*)$")
_ITEM = re.compile(r"^--\s{3,}(\w+)\s+([A-Z0-9]+)\s+(.+)$")
_MORE = re.compile(r"^--\s{3,}(.+)$")


def parse_header(path: Path, source: str) -> Template:
    """Read the comment header of a template; errors name the file and the line."""
    sections: dict[str, str] = {}
    items: dict[str, list[Field]] = {"params": [], "columns": []}
    current = None
    for lineno, line in enumerate(source.splitlines(), 1):
        if not line.startswith("--"):
            break
        if section := _SECTION.match(line):
            current, text = section.groups()
            sections[current] = text
        elif current in items and (item := _ITEM.match(line)):
            name, sql_type, doc = item.groups()
            if sql_type not in SQL_TYPES:
                raise TemplateError(f"{path.name}:{lineno}: unknown type {sql_type!r} for {name!r}")
            items[current].append(Field(name, sql_type, doc.strip()))
        elif current and (more := _MORE.match(line)):
            sections[current] = f"{sections[current]} {more.group(1).strip()}".strip()
        else:
            raise TemplateError(f"{path.name}:{lineno}: cannot read header line {line!r}")
    for required in ("name", "table", "grain", "columns"):
        if required not in sections:
            raise TemplateError(f"{path.name}: header has no '{required}:' section")
    if sections["name"] != path.stem:
        raise TemplateError(f"{path.name}: header names it {sections['name']!r}, expected {path.stem!r}")
    return Template(
        name=path.stem,
        path=path,
        table=sections["table"],
        grain=sections["grain"],
        params=tuple(items["params"]),
        columns=tuple(items["columns"]),
        source=source,
    )


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(sql_dir()),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )


@functools.cache
def names() -> tuple[str, ...]:
    """Every template name (files starting with `_` hold shared macros, not queries)."""
    return tuple(sorted(p.stem for p in sql_dir().glob("*.sql") if not p.name.startswith("_")))


@functools.cache
def load(name: str) -> Template:
    if name not in names():
        close = ", ".join(n for n in names() if name.split("_")[0] in n) or ", ".join(names())
        raise TemplateError(f"Unknown template {name!r}. Known: {close}")
    path = sql_dir() / f"{name}.sql"
    return parse_header(path, path.read_text(encoding="utf-8"))


def render(name: str, *, outlet: bool = False, granularity: str = "day", layout: str = "seed", offsets: bool = False) -> str:
    """Render a template to BigQuery SQL for one shape. Takes no values, by design."""
    if granularity not in GRANULARITIES:
        raise TemplateError(f"Unknown granularity {granularity!r}")
    if layout not in LAYOUTS:
        raise TemplateError(f"Unknown layout {layout!r}")
    load(name)
    template = _environment().get_template(f"{name}.sql")
    return template.render(outlet=bool(outlet), granularity=granularity, layout=layout, offsets=bool(offsets))
