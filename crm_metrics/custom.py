"""Custom metrics: a directory of the user's `.sql` files (CRM_METRICS_PATH) checked at load.

Each file is a metric template like those of sql/metrics/ (header first, BigQuery SQL, Jinja
for shape only), with the stable library of sql/macros/custom.sql. A file is checked when it
is loaded, and refused with an error naming the file and line unless:

- its header parses, its name is free (no built-in answer is shadowed), it declares
  `tenant_id`, and each library value it declares has the library's type;
- it renders and parses for every shape a request can ask for, and compiles for every dialect;
- it declares every parameter its SQL uses (the macros' own offsets aside), and its final
  SELECT's columns are the header's, in order;
- it passes the tenant-isolation check (crm_metrics/isolation.py): one read-only query whose
  every scan of a tenant's table is restricted to `@tenant_id`, values only as parameters.

A refused file is kept in the catalogue with its error (the others keep working), logged, and
counted by /health. `CustomMetrics.reload` reads the directory again (SIGHUP; `refresh` does it
when a file changed).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import math
import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import jinja2
import jinja2.sandbox
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError

from crm_metrics import isolation, templates
from crm_metrics.compiler import compile_text
from crm_metrics.dialects import Dialect
from crm_metrics.errors import InvalidParameter, MetricsError, TemplateError, UnknownMetric, shown
from crm_metrics.query import CompiledQuery, Field
from crm_metrics.templates import Shape, Template

log = logging.getLogger("crm_metrics.custom")

#: The values the library derives from a request, with their types: a metric declares those
#: its SQL uses, as the built-in templates do.
LIBRARY_PARAMS: dict[str, str] = {
    "tenant_id": "STRING",
    "outlet_id": "STRING",
    "start_date": "DATE",
    "end_date": "DATE",
    "tz": "STRING",
    "range_start": "TIMESTAMP",
    "range_end": "TIMESTAMP",
    "llm_price_per_million_tokens": "FLOAT64",
    "whatsapp_price_per_message": "FLOAT64",
}
#: The range's UTC offsets, which the library macros read for local dates and hours: bound
#: by the library without a declaration (docs: local dates).
MACRO_PARAMS: tuple[Field, ...] = (
    *(Field(f"tz_change_{i}", "INT64", "a UTC-offset change in the range, epoch microseconds") for i in range(1, templates.OFFSET_SLOTS + 1)),
    *(Field(f"tz_offset_{i}", "INT64", "a UTC offset of the range, microseconds") for i in range(templates.OFFSET_SLOTS + 1)),
)
#: Names a declared extra parameter may not take: the request's own query parameters.
RESERVED_NAMES = frozenset({"granularity", "format", "compare", "param", "name"})
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
#: How often `refresh` looks at the directory, at most (seconds).
REFRESH_SECONDS = 1.0
#: The longest accepted STRING value of an extra parameter.
MAX_STRING = 1000


@dataclass(frozen=True)
class CustomMetric:
    """One file of the directory: a checked template, or the error that refused it."""

    name: str
    path: Path
    template: Template | None
    error: str | None = None
    #: Whether a request may name an outlet (the file declares outlet_id).
    outlet: bool = False
    #: Parameters the request supplies beyond the library's (`--param k=v`, `?k=v`).
    extras: tuple[Field, ...] = ()
    #: A hash of the file's text: compiled queries are cached by it, so an edit recompiles.
    digest: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def series(self) -> bool:
        """Whether the request's granularity applies (the header names day, week, month)."""
        return self.template is not None and self.template.granularities != ("range",)

    def shapes(self) -> list[Shape]:
        """Every shape a request can ask for: granularity, outlet filter, local dates by the
        range's UTC offsets or by the engine's time zones."""
        assert self.template is not None
        outlets = (False, True) if self.outlet else (False,)
        return [Shape("seed", outlet, grain, offsets) for grain in self.template.granularities for outlet in outlets for offsets in (True, False)]

    def describe(self) -> dict[str, Any]:
        """Its catalogue entry (GET /api/v1/metrics, `crm-metrics list`)."""
        entry: dict[str, Any] = {"name": self.name, "kind": "custom", "file": self.path.name, "status": "ok" if self.ok else "error"}
        if self.template is not None:
            entry["description"] = self.template.table
            entry["grain"] = self.template.grain
            entry["granularities"] = list(self.template.granularities)
            entry["outlet"] = self.outlet
            entry["params"] = [{"name": p.name, "type": p.type, "description": p.doc} for p in self.extras]
            entry["columns"] = [{"name": c.name, "type": c.type, "description": c.doc} for c in self.template.columns]
        if self.error is not None:
            entry["error"] = self.error
        return entry


def load_file(path: Path, builtins: Iterable[str] = ()) -> CustomMetric:
    """The metric of one file, checked; a refused file comes back with its error."""
    name = path.stem
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeError) as error:
        return CustomMetric(name, path, None, f"{path.name}: cannot read: {error}")
    return _load_source(path, source, frozenset(builtins))


@functools.lru_cache(maxsize=256)
def _load_source(path: Path, source: str, builtins: frozenset[str]) -> CustomMetric:
    """A file's metric from its text: checked once per process for each text (a reload of an
    unchanged file, or another catalogue of the same directory, costs nothing)."""
    name = path.stem
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    template = None
    try:
        template = templates.parse_header(path, source)
        metric = _checked_header(template, set(builtins), digest)
        _check_sql(metric, source)
    except (TemplateError, InvalidParameter) as error:
        return CustomMetric(name, path, template, str(error), digest=digest)
    except Exception as error:  # whatever a file does wrong, the others keep working
        log.exception("custom metric %s: unexpected error while checking it", path.name)
        return CustomMetric(name, path, template, f"{path.name}: cannot be checked: {type(error).__name__}: {error}", digest=digest)
    return metric


def _checked_header(template: Template, builtins: set[str], digest: str) -> CustomMetric:
    path, name = template.path, template.name
    if not _NAME.match(name):
        raise TemplateError(f"{path.name}: a metric's name is lowercase letters, digits and _, starting with a letter; got {name!r}")
    if name in builtins:
        raise TemplateError(f"{path.name}: {name!r} is a built-in answer's name: a custom metric cannot shadow it")
    grains = template.granularities
    if grains != ("range",) and "range" in grains:
        raise TemplateError(f"{_at(path, _line(template.source, 'granularities:'))}: granularities are day week month (a series) or range (one row set), not both")
    declared = {p.name: p for p in template.params}
    if "tenant_id" not in declared:
        raise TemplateError(f"{_at(path, _line(template.source, 'params:'))}: declare tenant_id STRING: every custom metric reads one tenant")
    extras = []
    for param in template.params:
        line = _line(template.source, f"--   {param.name} ") or _line(template.source, param.name)
        expected = LIBRARY_PARAMS.get(param.name)
        if expected is not None and param.type != expected:
            raise TemplateError(f"{_at(path, line)}: {param.name} is the library's {expected}, declared {param.type}")
        if param.name in {p.name for p in MACRO_PARAMS}:
            raise TemplateError(f"{_at(path, line)}: {param.name} is bound by the library for its macros: do not declare it")
        if expected is None:
            if param.name in RESERVED_NAMES or not _NAME.match(param.name):
                raise TemplateError(f"{_at(path, line)}: {param.name!r} cannot name a parameter (reserved or not lowercase letters, digits and _)")
            if param.type == "TIMESTAMP":
                raise TemplateError(f"{_at(path, line)}: instants come from the request (range_start, range_end): a parameter is STRING, INT64, FLOAT64, DATE or BOOL")
            extras.append(param)
    columns = [c.name for c in template.columns]
    if len(set(columns)) != len(columns):
        raise TemplateError(f"{path.name}: the header names a column twice")
    return CustomMetric(name, path, template, outlet="outlet_id" in declared, extras=tuple(extras), digest=digest)


def _at(path: Path, line: int | None) -> str:
    """`file:line`, or the file alone when the line is not known."""
    return f"{path.name}:{line}" if line else path.name


def _line(source: str, text: str) -> int | None:
    """The 1-based line of the first occurrence of `text` in `source` (None: not there)."""
    for number, line in enumerate(source.splitlines(), 1):
        if text in line:
            return number
    return None


def _check_sql(metric: CustomMetric, source: str) -> None:
    """Render, parse and check every shape; compile the first for every dialect."""
    assert metric.template is not None
    shapes = metric.shapes()
    for shape in shapes:
        text, statements = _rendered(metric, shape)
        _check_tree(metric, list(statements), text, shape)
    # Every dialect, in the shape most requests take (the file's own SQL is the same in every
    # shape; what the shapes change is the library's macros, which the examples' tests compile
    # and run on every engine). Other shapes compile on their first request, cached.
    for dialect in Dialect:
        try:
            compiled(metric, dialect, shapes[0])
        except SqlglotError as error:
            raise TemplateError(f"{metric.path.name}: does not compile for {dialect.value}: {error}") from error


def render(metric: CustomMetric, shape: Shape) -> str:
    """The metric's BigQuery SQL for one shape (no values: Jinja shapes, parameters carry)."""
    assert metric.template is not None
    try:
        template = _environment().from_string(metric.template.source)
        return template.render(outlet=shape.outlet, granularity=shape.granularity, layout=shape.layout, offsets=shape.offsets, bounded=False)
    except jinja2.TemplateSyntaxError as error:
        where = f"{metric.path.name}:{error.lineno}" if error.name is None else f"{metric.path.name} (in {error.name}:{error.lineno})"
        raise TemplateError(f"{where}: {error.message}") from error
    except (jinja2.TemplateError, jinja2.sandbox.SecurityError) as error:
        raise TemplateError(f"{metric.path.name}: cannot render: {error}") from error


@functools.cache
def _environment() -> jinja2.Environment:
    """The templates' environment (sql/ as the search path, the named constants), sandboxed:
    a custom file is not this project's code, so its Jinja reaches no Python internals."""
    from jinja2.sandbox import SandboxedEnvironment

    environment = SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(templates.sql_dir()),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )
    environment.globals.update(templates.CONSTANTS)
    return environment


def _parse(metric: CustomMetric, text: str) -> list[exp.Expression]:
    try:
        statements = sqlglot.parse(text, read="bigquery")
    except ParseError as error:
        first = error.errors[0] if error.errors else {}
        line = _source_line(metric, text, first.get("line")) if first.get("line") else None
        where = f"{metric.path.name}:{line}" if line else metric.path.name
        raise TemplateError(f"{where}: not valid BigQuery SQL: {first.get('description') or error}") from error
    return [s for s in statements if s is not None]


def _check_tree(metric: CustomMetric, statements: list[exp.Expression], text: str, shape: Shape) -> None:
    assert metric.template is not None
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        # One read-only statement, before anything else is looked at.
        raise TemplateError(_report(metric, text, isolation.problems(statements), shape))
    tree = statements[0]
    declared = {p.name for p in metric.template.params}
    used = {node.name for node in tree.find_all(exp.Parameter)}
    macro = {p.name for p in MACRO_PARAMS}
    if undeclared := sorted(used - declared - macro):
        details = []
        for name in undeclared:
            line = _line_of_parameter(metric.template.source, name)
            details.append(f"@{name} (line {line})" if line else f"@{name} (used by a library macro)")
        raise TemplateError(
            f"{metric.path.name}: uses {', '.join(details)} but the header does not declare it: add it under params:"
            + (" (library values: " + ", ".join(LIBRARY_PARAMS) + ")" if any(n in LIBRARY_PARAMS for n in undeclared) else "")
        )
    columns = _output_columns(tree)
    expected = [c.name for c in metric.template.columns]
    if columns is not None and columns != expected:
        raise TemplateError(f"{metric.path.name}: the final SELECT gives the columns {', '.join(columns)}; the header's columns: are {', '.join(expected)}")
    if found := isolation.problems(statements):
        raise TemplateError(_report(metric, text, found, shape))
    _check_types(metric, tree)


def _line_of_parameter(source: str, name: str) -> int | None:
    pattern = re.compile(rf"@{re.escape(name)}\b")
    for number, line in enumerate(source.splitlines(), 1):
        if not line.startswith("--") and pattern.search(line):
            return number
    return None


def _output_columns(tree: exp.Expression) -> list[str] | None:
    first = tree
    while isinstance(first, exp.SetOperation):
        first = first.this
    if not isinstance(first, exp.Select):
        return None
    if any(isinstance(p, exp.Star) or isinstance(p.this, exp.Star) for p in first.expressions):
        return None  # `SELECT *`: the rows' width is checked when they come back
    return [p.alias_or_name for p in first.expressions]


#: Families of types that a declared column type accepts (what sqlglot infers of the final
#: projection; anything it cannot infer is checked on the rows, crm_metrics/query.py).
_FAMILIES = {
    "INT64": {"int"},
    "FLOAT64": {"int", "float"},
    "STRING": {"text"},
    "DATE": {"date"},
    "TIMESTAMP": {"timestamp"},
    "BOOL": {"bool"},
}


def _family(data_type: exp.DataType | None) -> str | None:
    if data_type is None:
        return None
    kind = data_type.this
    T = exp.DataType.Type
    if kind in exp.DataType.INTEGER_TYPES:
        return "int"
    if kind in exp.DataType.REAL_TYPES:
        return "float"
    if kind in exp.DataType.TEXT_TYPES:
        return "text"
    if kind == T.DATE:
        return "date"
    if kind in (T.TIMESTAMP, T.TIMESTAMPTZ, T.TIMESTAMPLTZ, T.DATETIME):
        return "timestamp"
    if kind == T.BOOLEAN:
        return "bool"
    return None


def _check_types(metric: CustomMetric, tree: exp.Expression) -> None:
    """The header's column types against what sqlglot can tell of the final projection."""
    from sqlglot.optimizer.annotate_types import annotate_types

    assert metric.template is not None
    schema = {"conversations": _schema("conversations"), "messages": _schema("messages"), "tenants": _schema("tenants")}
    try:
        typed = annotate_types(tree.copy(), schema=schema, dialect="bigquery")
    except Exception:  # inference is a help, not a gate: the rows are checked when they come back
        return
    first = typed
    while isinstance(first, exp.SetOperation):
        first = first.this
    if not isinstance(first, exp.Select):
        return
    for column, projection in zip(metric.template.columns, first.expressions, strict=False):
        family = _family(projection.type)
        if family is not None and family not in _FAMILIES[column.type]:
            line = _line(metric.template.source, f"--   {column.name} ")
            raise TemplateError(
                f"{_at(metric.path, line)}: column {column.name} is declared {column.type} but its expression is"
                f" {projection.type.sql(dialect='bigquery')}: cast it, or declare the type it has"
            )


@functools.cache
def _schema(table: str) -> dict[str, str]:
    from crm_metrics.schema import TABLES

    return {c.name: c.type for c in TABLES[table]}


def _report(metric: CustomMetric, text: str, found: list[isolation.Problem], shape: Shape | None = None) -> str:
    lines = []
    for problem in found:
        line = _source_line(metric, text, problem.line())
        where = f"{metric.path.name}:{line}" if line else metric.path.name
        lines.append(f"{where}: {problem.message}")
    suffix = " (with an outlet filter)" if shape is not None and shape.outlet else ""
    return "; ".join(lines) + suffix


def _source_line(metric: CustomMetric, text: str, rendered_line: int | None) -> int | None:
    """The file's line that a line of the rendered SQL came from: the same text, where the
    file has it (a line a macro wrote has none)."""
    if rendered_line is None or metric.template is None:
        return None
    rendered = text.splitlines()
    if not 0 < rendered_line <= len(rendered):
        return None
    wanted = rendered[rendered_line - 1].strip()
    if not wanted:
        return None
    lines = metric.template.source.splitlines()
    for number, line in enumerate(lines, 1):
        if line.strip() == wanted:
            return number
    # A line with Jinja expressions: its literal text around them, in order.
    for number, line in enumerate(lines, 1):
        pieces = _JINJA.split(line.strip())
        if len(pieces) > 1 and any(p.strip() for p in pieces):
            if re.fullmatch(".*".join(re.escape(p) for p in pieces), wanted, flags=re.DOTALL):
                return number
    return None


_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}")


@functools.lru_cache(maxsize=512)
def compiled(metric: CustomMetric, dialect: Dialect, shape: Shape) -> CompiledQuery:
    """The metric for one dialect and shape, compiled once per (file content, dialect, shape)."""
    assert metric.template is not None
    # The macros' offsets are typed parameters like the declared ones.
    template = replace(metric.template, params=(*metric.template.params, *MACRO_PARAMS))
    text, statements = _rendered(metric, shape)
    return compile_text(template, text, dialect, statements[0].copy())


@functools.lru_cache(maxsize=512)
def _rendered(metric: CustomMetric, shape: Shape) -> tuple[str, tuple[exp.Expression, ...]]:
    """The metric's SQL for one shape and its parsed statements, once (the checks read the
    trees, never change them; a compile changes a copy)."""
    text = render(metric, shape)
    return text, tuple(_parse(metric, text))


# -- request values --------------------------------------------------------------------------


def extra_values(metric: CustomMetric, given: Mapping[str, Any]) -> dict[str, Any]:
    """The declared extra parameters' values, typed; an unknown or missing one, or a value of
    the wrong type, is an InvalidParameter naming it."""
    known = {p.name: p for p in metric.extras}
    for name in given:
        if name not in known:
            listed = ", ".join(known) or "none"
            raise InvalidParameter(name, f"unknown parameter of {metric.name}; it declares: {listed}")
    values = {}
    for name, param in known.items():
        if given.get(name) is None:
            raise InvalidParameter(name, f"is required by {metric.name} ({param.type}: {param.doc})")
        values[name] = _typed(name, param.type, given[name])
    return values


def _typed(name: str, sql_type: str, value: Any) -> Any:
    try:
        if sql_type == "STRING":
            text = str(value)
            if len(text) > MAX_STRING:
                raise ValueError(f"at most {MAX_STRING} characters")
            return text
        if sql_type == "INT64":
            if isinstance(value, bool):
                raise ValueError
            number = value if isinstance(value, int) else int(str(value).strip(), 10)
            if not -(2**63) <= number < 2**63:
                raise ValueError
            return number
        if sql_type == "FLOAT64":
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
            if not math.isfinite(number):
                raise ValueError
            return number
        if sql_type == "DATE":
            return value if isinstance(value, dt.date) and not isinstance(value, dt.datetime) else dt.date.fromisoformat(str(value))
        if sql_type == "BOOL":
            if isinstance(value, bool):
                return value
            lowered = str(value).strip().lower()
            if lowered not in ("true", "false"):
                raise ValueError
            return lowered == "true"
    except ValueError as error:
        detail = f" ({error})" if str(error) else ""
        raise InvalidParameter(name, f"must be {_WORDS[sql_type]}, got {shown(value)}{detail}") from None
    raise InvalidParameter(name, f"has the unsupported type {sql_type}")


_WORDS = {"STRING": "text", "INT64": "a whole number", "FLOAT64": "a finite number", "DATE": "a date YYYY-MM-DD", "BOOL": "true or false"}


# -- the catalogue ---------------------------------------------------------------------------


class CustomMetrics:
    """The metrics of a directory, loaded and checked; `reload` and `refresh` read it again.
    Safe to share between threads: a reload swaps the whole catalogue at once."""

    def __init__(self, path: str | Path | None, builtins: Iterable[str] = ()) -> None:
        self.path = Path(path) if path else None
        self.builtins = frozenset(builtins)
        self._metrics: dict[str, CustomMetric] = {}
        self._signature: tuple[tuple[str, int, int], ...] = ()
        self._checked_at = 0.0
        self._lock = threading.Lock()
        if self.path is not None and not self.path.is_dir():
            raise MetricsError(f"Config 'CRM_METRICS_PATH' has value '{self.path}': not a directory")
        self.reload()

    def _files(self) -> list[Path]:
        if self.path is None:
            return []
        try:
            return sorted(p for p in self.path.glob("*.sql") if p.is_file())
        except OSError:
            return []

    def _stat(self, files: list[Path]) -> tuple[tuple[str, int, int], ...]:
        signature = []
        for path in files:
            try:
                info = path.stat()
            except OSError:
                continue
            signature.append((path.name, info.st_mtime_ns, info.st_size))
        return tuple(signature)

    def reload(self) -> None:
        """Read every file again (SIGHUP does this for a running server)."""
        with self._lock:
            files = self._files()
            signature = self._stat(files)
            loaded = {}
            for path in files:
                metric = load_file(path, self.builtins)
                if not metric.ok:
                    log.error("custom metric refused: %s", metric.error)
                loaded[metric.name] = metric
            self._metrics, self._signature, self._checked_at = loaded, signature, time.monotonic()
        if loaded:
            good = sum(m.ok for m in loaded.values())
            log.info("custom metrics from %s: %d loaded, %d refused", self.path, good, len(loaded) - good)

    def refresh(self) -> None:
        """Reload when a file was added, removed or changed (looked at once a second at most)."""
        if self.path is None or time.monotonic() - self._checked_at < REFRESH_SECONDS:
            return
        self._checked_at = time.monotonic()
        if self._stat(self._files()) != self._signature:
            self.reload()

    def all(self) -> list[CustomMetric]:
        self.refresh()
        return sorted(self._metrics.values(), key=lambda m: m.name)

    def get(self, name: str) -> CustomMetric:
        """The metric `name`, ready to run; UnknownMetric when there is none or it was refused."""
        self.refresh()
        metric = self._metrics.get(name)
        if metric is None:
            known = ", ".join(m.name for m in self.all() if m.ok) or "none"
            raise UnknownMetric(name, f"no custom metric {shown(name)}; known: {known}")
        if not metric.ok:
            raise UnknownMetric(name, f"custom metric {name!r} was refused when loaded; see the catalogue (GET /api/v1/metrics, crm-metrics list)")
        return metric

    def errors(self) -> list[str]:
        return [m.error for m in self.all() if m.error is not None]
