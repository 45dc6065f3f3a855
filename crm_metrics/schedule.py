"""The schedule file of reports (TOML) and its calendar: when each report is due, in the
tenant's timezone, and which period it covers. No clock and no I/O here: the scheduler
(crm_metrics/scheduler.py) asks, for an instant, what is due.

    [smtp]                      # for e-mail deliveries
    host = "smtp.example.com"
    port = 587
    starttls = true
    username = "reports"
    password_env = "SMTP_PASSWORD"      # the password's environment variable, never the password
    sender = "reports@example.com"

    [[report]]
    name = "acme-weekly"                # unique: what was sent is recorded under it
    tenant_id = "00000000-0000-0000-0000-000000000001"
    cadence = "weekly"                  # daily | weekly | monthly
    weekday = "monday"                  # weekly: the day it goes out
    # day = 1                           # monthly: the day of the month it goes out, 1 to 28
    at = "08:00"                        # local time in `tz`
    # tz = "Asia/Jakarta"               # default: the tenant's timezone, else UTC
    # outlet_id = "..."                 # only this outlet
    format = "pdf"                      # pdf | html
    deliver = { email = ["lead@example.com"] }   # or { webhook = "https://..." } or { directory = "/srv/reports" }

    [[alert]]                           # anomalies to a webhook (docs/anomalies.md)
    name = "acme-alerts"                # unique among alerts: what was sent is recorded under it
    tenant_id = "00000000-0000-0000-0000-000000000001"
    metrics = ["total_conversations", "handoff_rate"]   # default: every watched metric
    # direction = "both"                # up | down | both
    # days = 7                          # the complete days looked at by each check
    # every_minutes = 60                # how often to look
    # tz = "Asia/Jakarta"; outlet_id = "..."
    deliver = { webhook = "https://hooks.example.com/crm" }   # one POST per anomaly, once

A report covers the period before it goes out: the day before (daily), the ISO week
(Monday to Sunday) before the week it goes out in (weekly), the month before (monthly).
A local time the clock skips (a spring-forward gap) is read with the offset before the
change, so 02:30 on such a day goes out at 03:30; a time that happens twice goes out at the
first. Each period's report goes out once either way.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crm_metrics import request
from crm_metrics.errors import ConfigError, InvalidParameter

CADENCES = ("daily", "weekly", "monthly")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
FORMATS = ("pdf", "html")
DELIVERIES = ("email", "webhook", "directory")
#: Monthly reports go out on a day every month has.
LAST_MONTHLY_DAY = 28


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date


@dataclass(frozen=True)
class Delivery:
    kind: str
    #: email: the recipients; webhook: the URL; directory: the path.
    target: tuple[str, ...] | str


@dataclass(frozen=True)
class Entry:
    name: str
    tenant_id: str
    cadence: str
    at: dt.time
    delivery: Delivery
    weekday: int = 0
    day: int = 1
    tz: str | None = None
    outlet_id: str | None = None
    format: str = "pdf"

    def period_before(self, day: dt.date) -> Period:
        """The period a report going out on local `day` covers."""
        if self.cadence == "daily":
            previous = day - dt.timedelta(days=1)
            return Period(previous, previous)
        if self.cadence == "weekly":
            monday = day - dt.timedelta(days=day.weekday() + 7)
            return Period(monday, monday + dt.timedelta(days=6))
        last = day.replace(day=1) - dt.timedelta(days=1)
        return Period(last.replace(day=1), last)

    def sending_day(self, period: Period) -> dt.date:
        """The local date the report of `period` goes out: the first sending day after it."""
        day = period.end + dt.timedelta(days=1)
        if self.cadence == "weekly":
            day += dt.timedelta(days=(self.weekday - day.weekday()) % 7)
        elif self.cadence == "monthly":
            day = day.replace(day=self.day) if day.day <= self.day else _next_month(day).replace(day=self.day)
        return day

    def due(self, period: Period, tz: str) -> dt.datetime:
        """When the report of `period` goes out: `at` on its sending day in `tz`, as UTC."""
        local = dt.datetime.combine(self.sending_day(period), self.at, tzinfo=zoneinfo.ZoneInfo(tz))
        # fold=0: a skipped time reads with the offset before the change (02:30 -> 03:30 in
        # wall time), a repeated one is its first occurrence.
        return local.astimezone(dt.UTC)

    def next_period(self, after: Period) -> Period:
        """The first period of this cadence that starts after `after`."""
        first = after.end + dt.timedelta(days=1)
        if self.cadence == "daily":
            return Period(first, first)
        if self.cadence == "weekly":
            monday = first + dt.timedelta(days=-first.weekday() % 7)
            return Period(monday, monday + dt.timedelta(days=6))
        start = first if first.day == 1 else _next_month(first)
        return Period(start, _next_month(start) - dt.timedelta(days=1))

    def first_due_from(self, now: dt.datetime, tz: str) -> Period:
        """The period of the first report due at or after `now` (a new entry starts there)."""
        today = now.astimezone(zoneinfo.ZoneInfo(tz)).date()
        # The report going out the day before today is due before now; step on from it.
        period = self.period_before(today - dt.timedelta(days=1))
        while self.due(period, tz) < now:
            period = self.next_period(period)
        return period


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int = 25
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    sender: str = "crm-metrics@localhost"
    timeout: float = 30.0


@dataclass(frozen=True)
class Retry:
    """Failed deliveries are tried again after `first_seconds`, doubling up to `max_seconds`,
    at most `attempts` times in all; then the report is given up (logged, shown by /health)."""

    attempts: int = 8
    first_seconds: float = 60.0
    max_seconds: float = 3600.0

    def delay(self, attempts: int) -> dt.timedelta:
        """The wait after the `attempts`-th failure."""
        return dt.timedelta(seconds=min(self.first_seconds * 2 ** (attempts - 1), self.max_seconds))


@dataclass(frozen=True)
class Alert:
    """Newly found anomalies of a tenant's metrics, each posted once to a webhook."""

    name: str
    tenant_id: str
    metrics: tuple[str, ...]
    webhook: str
    direction: str = "both"
    days: int = 7
    every_minutes: int = 60
    tz: str | None = None
    outlet_id: str | None = None


@dataclass(frozen=True)
class Schedule:
    entries: tuple[Entry, ...]
    smtp: Smtp | None = None
    retry: Retry = Retry()
    alerts: tuple[Alert, ...] = ()


def load(path: str | Path, environ: dict[str, str] | None = None) -> Schedule:
    """Read and check a schedule file; an error names the file, the entry and the key."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the schedule: {error.strerror or error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    return parse(data, str(path), os.environ if environ is None else environ)


def parse(data: dict[str, Any], source: str = "schedule", environ: dict[str, str] | None = None) -> Schedule:
    environ = environ if environ is not None else dict(os.environ)
    _only(data, {"smtp", "retry", "report", "alert"}, source)
    reports, alert_items = data.get("report", []), data.get("alert", [])
    if not isinstance(reports, list) or not isinstance(alert_items, list) or not (reports or alert_items):
        raise ConfigError(f"{source}: no [[report]] or [[alert]] entries")
    entries = tuple(_entry(item, f"{source}: report {i + 1}") for i, item in enumerate(reports))
    alerts = tuple(_alert(item, f"{source}: alert {i + 1}") for i, item in enumerate(alert_items))
    alert_names = [alert.name for alert in alerts]
    if duplicated := sorted({name for name in alert_names if alert_names.count(name) > 1}):
        raise ConfigError(f"{source}: alert names must be unique; {', '.join(duplicated)} appear more than once")
    names = [entry.name for entry in entries]
    if duplicated := sorted({name for name in names if names.count(name) > 1}):
        raise ConfigError(f"{source}: report names must be unique; {', '.join(duplicated)} appear more than once")
    smtp = _smtp(data["smtp"], f"{source}: [smtp]", environ) if "smtp" in data else None
    if smtp is None and any(entry.delivery.kind == "email" for entry in entries):
        raise ConfigError(f"{source}: e-mail deliveries need an [smtp] table")
    retry = _retry(data.get("retry", {}), f"{source}: [retry]")
    return Schedule(entries, smtp, retry, alerts)


#: The most days an alert looks back at each check.
MAX_ALERT_DAYS = 31


def _alert(item: Any, where: str) -> Alert:
    keys = {"name", "tenant_id", "metrics", "direction", "days", "every_minutes", "tz", "outlet_id", "deliver"}
    _only(item, keys, where)
    for required in ("name", "tenant_id", "deliver"):
        if required not in item:
            raise ConfigError(f"{where}: {required} is required")
    name = item["name"]
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}: name must be a non-empty string")
    where = f"{where} ({name})"
    metrics = item.get("metrics", list(request.ANOMALY_METRICS))
    if not isinstance(metrics, list) or not metrics:
        raise ConfigError(f"{where}: metrics must be a list of {', '.join(request.ANOMALY_METRICS)}")
    try:
        tenant_id = request.uuid("tenant_id", item["tenant_id"])
        outlet_id = request.optional_uuid("outlet_id", item.get("outlet_id"))
        tz = request.timezone("tz", item.get("tz"))
        watched = tuple(str(request.metric_choice("metrics", metric)) for metric in metrics)
        direction = request.direction_choice("direction", item.get("direction"))
    except InvalidParameter as error:
        raise ConfigError(f"{where}: {error}") from None
    days, every = item.get("days", 7), item.get("every_minutes", 60)
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_ALERT_DAYS:
        raise ConfigError(f"{where}: days must be from 1 to {MAX_ALERT_DAYS}, got {days!r}")
    if not isinstance(every, int) or isinstance(every, bool) or every < 1:
        raise ConfigError(f"{where}: every_minutes must be a whole number of minutes, at least 1, got {every!r}")
    delivery = _delivery(item["deliver"], f"{where}: deliver")
    if delivery.kind != "webhook":
        raise ConfigError(f"{where}: deliver: alerts go to a webhook: {{ webhook = \"URL\" }}")
    return Alert(name, tenant_id, watched, str(delivery.target), direction, days, every, tz, outlet_id)


def _only(table: Any, keys: set[str], where: str) -> None:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table")
    if unknown := sorted(set(table) - keys):
        raise ConfigError(f"{where}: unknown key {', '.join(unknown)}; known: {', '.join(sorted(keys))}")


def _choice(value: Any, choices: tuple[str, ...], where: str) -> str:
    if value not in choices:
        raise ConfigError(f"{where}: must be one of {', '.join(choices)}, got {value!r}")
    return str(value)


def _entry(item: Any, where: str) -> Entry:
    keys = {"name", "tenant_id", "cadence", "weekday", "day", "at", "tz", "outlet_id", "format", "deliver"}
    _only(item, keys, where)
    for required in ("name", "tenant_id", "cadence", "at", "deliver"):
        if required not in item:
            raise ConfigError(f"{where}: {required} is required")
    name = item["name"]
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}: name must be a non-empty string")
    where = f"{where} ({name})"
    cadence = _choice(item["cadence"], CADENCES, f"{where}: cadence")
    try:
        tenant_id = request.uuid("tenant_id", item["tenant_id"])
        outlet_id = request.optional_uuid("outlet_id", item.get("outlet_id"))
        tz = request.timezone("tz", item.get("tz"))
    except InvalidParameter as error:
        raise ConfigError(f"{where}: {error}") from None
    at = item["at"]
    if isinstance(at, str):
        try:
            at = dt.time.fromisoformat(at)
        except ValueError:
            at = None
    if not isinstance(at, dt.time) or at.tzinfo is not None:
        raise ConfigError(f"{where}: at must be a local time like \"08:00\", got {item['at']!r}")
    weekday, day = 0, 1
    if cadence == "weekly":
        weekday = WEEKDAYS.index(_choice(str(item.get("weekday", "")).lower(), WEEKDAYS, f"{where}: weekday"))
    elif "weekday" in item:
        raise ConfigError(f"{where}: weekday is for weekly reports")
    if cadence == "monthly":
        day = item.get("day")
        if not isinstance(day, int) or isinstance(day, bool) or not 1 <= day <= LAST_MONTHLY_DAY:
            raise ConfigError(f"{where}: day must be a day of the month from 1 to {LAST_MONTHLY_DAY}, got {day!r}")
    elif "day" in item:
        raise ConfigError(f"{where}: day is for monthly reports")
    fmt = _choice(item.get("format", "pdf"), FORMATS, f"{where}: format")
    return Entry(name, tenant_id, cadence, at, _delivery(item["deliver"], f"{where}: deliver"), weekday, day, tz, outlet_id, fmt)


def _delivery(value: Any, where: str) -> Delivery:
    if not isinstance(value, dict) or len(value) != 1:
        raise ConfigError(f"{where}: must name one delivery: {{ email = [...] }}, {{ webhook = \"URL\" }} or {{ directory = \"PATH\" }}")
    ((kind, target),) = value.items()
    _choice(kind, DELIVERIES, where)
    if kind == "email":
        recipients = [target] if isinstance(target, str) else target
        if not isinstance(recipients, list) or not recipients or not all(isinstance(r, str) and "@" in r for r in recipients):
            raise ConfigError(f"{where}: email takes addresses, got {target!r}")
        return Delivery(kind, tuple(recipients))
    if not isinstance(target, str) or not target:
        raise ConfigError(f"{where}: {kind} takes a string, got {target!r}")
    if kind == "webhook" and not target.startswith(("http://", "https://")):
        raise ConfigError(f"{where}: webhook takes an http:// or https:// URL, got {target!r}")
    return Delivery(kind, target)


def _smtp(table: Any, where: str, environ: dict[str, str]) -> Smtp:
    _only(table, {"host", "port", "starttls", "username", "password_env", "sender", "timeout"}, where)
    if not isinstance(table.get("host"), str):
        raise ConfigError(f"{where}: host is required")
    password = None
    if "password_env" in table:
        password = environ.get(table["password_env"])
        if password is None:
            raise ConfigError(f"{where}: password_env names {table['password_env']!r}, which is not set")
    port = table.get("port", 25)
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise ConfigError(f"{where}: port must be from 1 to 65535, got {port!r}")
    return Smtp(
        host=table["host"],
        port=port,
        starttls=bool(table.get("starttls", False)),
        username=table.get("username"),
        password=password,
        sender=str(table.get("sender", Smtp.sender)),
        timeout=float(table.get("timeout", Smtp.timeout)),
    )


def _retry(table: Any, where: str) -> Retry:
    _only(table, {"attempts", "first_seconds", "max_seconds"}, where)
    retry = Retry(**table)
    if not (isinstance(retry.attempts, int) and retry.attempts >= 1 and 0 < retry.first_seconds <= retry.max_seconds):
        raise ConfigError(f"{where}: attempts >= 1 and 0 < first_seconds <= max_seconds, got {table!r}")
    return retry
