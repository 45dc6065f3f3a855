"""SQL templates: the `.sql` files, their comment headers, and Jinja rendering.

`sql/` holds the templates by role:
- `metrics/`: the public answers, one file per answer (what users query and render);
- `sources/<layout>/`: the row sources of each layout, included by the metric templates;
- `derived/`: what loads and refreshes run to keep the derived tables;
- `lookup/`: small lookups (a tenant's name and timezone);
- `macros/`: shared Jinja macros; `schema/`: DDL per engine.

A template is named by its file: a metric by its bare name (`dashboard`), any other by its
path under sql/ (`derived/metric_slots`, `lookup/tenant`). Each is BigQuery SQL with `@name`
parameters and a comment header (aiosql style): `name`, `table`, `grain`, optionally
`granularities`, then `params` and `columns`, one per line with a type. The header is the
single source of the parameter and column types. Jinja shapes a query (`Shape`, decided by
crm_metrics/planning.py); it never sees a value.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from pathlib import Path

import jinja2

from crm_metrics.errors import TemplateError
from crm_metrics.query import Field

#: Types a header may use (BigQuery names) and nothing else.
SQL_TYPES = frozenset({"STRING", "DATE", "TIMESTAMP", "INT64", "FLOAT64", "BOOL", "ARRAY<STRING>", "ARRAY<FLOAT64>", "ARRAY<DATE>"})
#: The buckets a request may ask for; `range` (one bucket, the whole range) is a summary's.
GRANULARITIES = ("day", "week", "month")
TEMPLATE_GRANULARITIES = (*GRANULARITIES, "range")
#: Where the rows come from: the seed's tables as users have them, the derived tables (the
#: embedded store's; PostgreSQL's after `init-db --rollup`), or their rollup.
LAYOUTS = ("seed", "facts", "rollup")
METRICS = "metrics"

_MICROS = dt.timedelta(microseconds=1)
_EPOCH = dt.datetime(1970, 1, 1)
#: The 15-minute UTC slots of the rollup (sql/derived/metric_slots.sql).
SLOT_MINUTES = 15
#: UTC-offset changes a range may have for the fast local-date arithmetic of the derived
#: tables (sql/macros/request.sql local_date); no current zone changes more than twice a year.
OFFSET_SLOTS = 4
#: Constants the templates use by name (Jinja globals): numbers of the calendar and of the
#: layouts, named once here rather than written as bare literals in SQL.
CONSTANTS: dict[str, int] = {
    "MICROS_PER_SECOND": dt.timedelta(seconds=1) // _MICROS,
    "MICROS_PER_MINUTE": dt.timedelta(minutes=1) // _MICROS,
    "MICROS_PER_DAY": dt.timedelta(days=1) // _MICROS,
    # Local dates are counted from 1900-01-01 and slots from 0001-01-01, so that integer
    # division never sees a negative number (DuckDB and PostgreSQL truncate toward zero).
    "MICROS_FROM_1900_TO_EPOCH": (_EPOCH - dt.datetime(1900, 1, 1)) // _MICROS,
    "MICROS_FROM_0001_TO_EPOCH": (_EPOCH - dt.datetime(1, 1, 1)) // _MICROS,
    "SLOT_MINUTES": SLOT_MINUTES,
    "SLOT_MICROS": dt.timedelta(minutes=SLOT_MINUTES) // _MICROS,
    "OFFSET_SLOTS": OFFSET_SLOTS,
    # Prices are per million tokens.
    "TOKENS_PER_PRICE_UNIT": 1_000_000,
    # A tenant picker lists at most this many tenants (sql/lookup/tenants.sql).
    "TENANTS_LISTED": 1000,
}


@dataclass(frozen=True)
class Shape:
    """What Jinja may branch on: everything that changes a query's text, nothing else."""

    layout: str = "seed"
    outlet: bool = False
    granularity: str = "day"
    #: Local dates by the range's known UTC offsets (the derived tables' fast path).
    offsets: bool = False
    #: Rows read only within the look-around bound of the range (LOOKAROUND_DAYS; the seed's
    #: tables only: the derived tables hold the unbounded contract's answers).
    bounded: bool = False
    #: Costs by the price tables (COST_MODEL=priced, docs/costs.md) instead of flat prices.
    priced: bool = False
    #: With `priced` on the rollup: the rollup's priced columns hold the process's price
    #: tables (the rate card installed, docs/costs.md "The priced rollup"), read as they are.
    stored_prices: bool = False
    #: With `offsets`, how many UTC-offset changes the range has: the local time's CASE carries
    #: that many branches (most ranges have none: one offset, no CASE; every branch costs DuckDB
    #: parsing and binding time, most of a small tenant's answer).
    offset_changes: int = OFFSET_SLOTS

    def __post_init__(self) -> None:
        # A Shape is a cache key: a wrong one must fail where it is made, not in a template.
        if (
            self.layout not in LAYOUTS or self.granularity not in TEMPLATE_GRANULARITIES or (self.bounded and self.layout != "seed")
            or not 0 <= self.offset_changes <= OFFSET_SLOTS or (self.stored_prices and not (self.priced and self.layout == "rollup"))
        ):
            raise ValueError(f"no such shape: {self}")


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
    #: The granularities it renders for (a series: day, week, month; a summary: range).
    granularities: tuple[str, ...]
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
_ITEM = re.compile(r"^--\s{3,}(\w+)\s+([A-Z0-9<>]+)\s+(.+)$")
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
    granularities = tuple(sections.get("granularities", "day").split())
    if unknown := set(granularities) - set(TEMPLATE_GRANULARITIES):
        raise TemplateError(f"{path.name}: unknown granularities {', '.join(sorted(unknown))}")
    return Template(
        name=path.stem,
        path=path,
        table=sections["table"],
        grain=sections["grain"],
        granularities=granularities,
        params=tuple(items["params"]),
        columns=tuple(items["columns"]),
        source=source,
    )


@functools.cache
def environment() -> jinja2.Environment:
    """The Jinja environment of every template: sql/ as the search path (macros, sources),
    StrictUndefined, the named constants as globals."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(sql_dir()),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )
    environment.globals.update(CONSTANTS)
    return environment


@functools.cache
def names() -> tuple[str, ...]:
    """The public metric templates (sql/metrics/): what `render` offers and the docs list."""
    return tuple(sorted(p.stem for p in (sql_dir() / METRICS).glob("*.sql")))


def _path(name: str) -> str:
    """A template's file under sql/: a metric's bare name, or a path like `derived/x`."""
    return f"{name}.sql" if "/" in name else f"{METRICS}/{name}.sql"


@functools.cache
def load(name: str) -> Template:
    path = sql_dir() / _path(name)
    if "/" not in name and name not in names() or not path.is_file():
        close = ", ".join(n for n in names() if name.split("_")[0] in n) or ", ".join(names())
        raise TemplateError(f"Unknown metric {name!r}. Known: {close}")
    return parse_header(path, path.read_text(encoding="utf-8"))


def render_template(name: str, shape: Shape) -> str:
    """Render a template to BigQuery SQL for one shape. Takes no values, by design."""
    template = load(name)
    if shape.granularity not in template.granularities:
        raise TemplateError(f"{template.path.name} renders for {', '.join(template.granularities)}, not {shape.granularity!r}")
    variables = {
        "outlet": shape.outlet,
        "granularity": shape.granularity,
        "layout": shape.layout,
        "offsets": shape.offsets,
        "offset_changes": shape.offset_changes,
        "bounded": shape.bounded,
        "priced": shape.priced,
        "stored_prices": shape.stored_prices,
    }
    return environment().get_template(_path(name)).render(**variables)
