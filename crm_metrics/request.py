"""Request parameters (docs/metrics.md §2): validation and defaults.

Every invalid value raises `InvalidParameter` naming the field as the caller spells it
(`tenant_id`, `start_date`, `end_date`, `outlet_id`, `tz`, `granularity`).
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import importlib.resources
import re
import zoneinfo
from dataclasses import dataclass

from crm_metrics.errors import SHOWN_CHARS, InvalidParameter, shown
from crm_metrics.templates import GRANULARITIES

DEFAULT_SPAN_DAYS = 30
#: A UUID in any case (RFC 4122 text form); canonical is lowercase.
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Every engine, and a day's UTC bounds in every timezone, are well defined in these years.
MIN_DATE, MAX_DATE = dt.date(1900, 1, 1), dt.date(9998, 12, 31)


@dataclass(frozen=True)
class Period:
    """The resolved range: local dates, the timezone, and the instants that bound it."""

    start_date: dt.date
    end_date: dt.date
    tz: str
    range_start: dt.datetime
    range_end: dt.datetime


def uuid(field: str, value: object) -> str:
    """A UUID in its canonical lowercase text form (RFC 4122)."""
    if not isinstance(value, str) or not UUID.fullmatch(value):
        raise InvalidParameter(field, f"must be a UUID like 123e4567-e89b-12d3-a456-426614174000, got {shown(value)}")
    return value.lower()


def optional_uuid(field: str, value: object) -> str | None:
    return None if value is None or value == "" else uuid(field, value)


def date(field: str, value: object) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        raise InvalidParameter(field, f"must be a date, not a datetime: {shown(value)}")
    if isinstance(value, dt.date):
        value = value.isoformat()
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise InvalidParameter(field, f"must be a date as YYYY-MM-DD, got {shown(value)}")
    try:
        parsed = dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidParameter(field, f"is not a calendar date: {shown(value)}") from None
    if not MIN_DATE <= parsed <= MAX_DATE:
        raise InvalidParameter(field, f"must be between {MIN_DATE} and {MAX_DATE}, got {shown(value)}")
    return parsed


@functools.cache
def _zones() -> frozenset[str]:
    """The zone names of the tz database as the `tzdata` package ships it (a dependency, and
    zoneinfo's fallback), not the host's `zoneinfo.available_timezones()`: that also lists
    names whose meaning depends on the machine (`localtime`, and `posixrules` on some), and
    engines other than Python know only the database's names. `Factory` is in the database
    but is no place: it stands for "timezone not configured" (abbreviation -00)."""
    zones = importlib.resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8").split()
    return frozenset(zones) - _NOT_PLACES.keys()


#: Names a host's zoneinfo may list that are no place, with what they stand for.
_NOT_PLACES = {
    "localtime": "the host's own timezone",
    "posixrules": "the host's default daylight-saving rules",
    "Factory": "the tz database's placeholder for a timezone not set",
}


def timezone(field: str, value: object) -> str | None:
    """An IANA timezone name, exactly as the tz database spells it."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value in _zones():
        return value
    if isinstance(value, str) and value in _NOT_PLACES:
        raise InvalidParameter(field, f"{value!r} is not a portable timezone ({_NOT_PLACES[value]}); use an IANA name such as 'Asia/Jakarta' or 'UTC'")
    # A hint for a near miss; a long value is no typo (and would only cost time to compare).
    near = difflib.get_close_matches(value, _zones(), n=1) if isinstance(value, str) and len(value) <= SHOWN_CHARS else []
    suffix = f". Did you mean {near[0]!r}?" if near else " (an IANA name such as 'Asia/Jakarta' or 'UTC')"
    raise InvalidParameter(field, f"unknown timezone {shown(value)}{suffix}")


def grain(field: str, value: object) -> str:
    """A granularity: day (default), week or month."""
    if value is None or value == "":
        return "day"
    if value not in GRANULARITIES:
        raise InvalidParameter(field, f"must be one of {', '.join(GRANULARITIES)}, got {shown(value)}")
    return str(value)


def instant(day: dt.date, tz: str) -> dt.datetime:
    """The first instant of `day` in `tz`, in UTC: local midnight, or, where a clock change
    skips midnight, the change itself (the first instant whose local date is `day`)."""
    zone = zoneinfo.ZoneInfo(tz)
    midnight = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
    start = midnight.astimezone(dt.UTC)
    if start.astimezone(zone).replace(tzinfo=None) == midnight.replace(tzinfo=None):
        return start
    # Midnight falls in a gap. Its two readings (the offsets before and after the change)
    # bracket the change; zoneinfo's fold=0 reading alone is late when the gap starts
    # before midnight (Toronto 1919-03-30 23:30 -> 00:30: the day starts at 04:30 UTC, not
    # 05:00). Offsets change on whole seconds: bisect to the second.
    low, high = sorted(int(moment.timestamp()) for moment in (start, midnight.replace(fold=1).astimezone(dt.UTC)))
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if dt.datetime.fromtimestamp(middle, zone).date() == day else (middle, high)
    return dt.datetime.fromtimestamp(high, dt.UTC)


def period(
    start_date: dt.date | None,
    end_date: dt.date | None,
    tz: str,
    *,
    now: dt.datetime,
    max_days: int,
) -> Period:
    """Fill in default dates (end = today in tz, start = end - 30 days: 31 days, both
    inclusive) and check the range. An error names a date the caller gave, and says which
    bound was a default."""
    defaulted_end = end_date is None
    defaulted_start = start_date is None
    if end_date is None:
        end_date = now.astimezone(zoneinfo.ZoneInfo(tz)).date()
    if start_date is None:
        start_date = end_date - dt.timedelta(days=DEFAULT_SPAN_DAYS)
    default_end = f" (end_date defaults to today in {tz})" if defaulted_end else ""
    if start_date > end_date:
        raise InvalidParameter("start_date", f"{start_date} is after end_date {end_date}{default_end}")
    days = (end_date - start_date).days + 1
    if days > max_days:
        limit = f"at most {max_days} are allowed"
        if defaulted_end and not defaulted_start:
            # `?start_date=2020-01-01` alone: the caller gave the start; the end is today.
            raise InvalidParameter("start_date", f"the range {start_date} .. {end_date}{default_end} is {days} days; {limit}")
        if defaulted_start:
            # The default span itself is longer than MAX_RANGE_DAYS: the caller must give a start.
            defaults = f"start_date defaults to end_date - {DEFAULT_SPAN_DAYS} days" + (f", end_date to today in {tz}" if defaulted_end else "")
            raise InvalidParameter("end_date", f"the range {start_date} .. {end_date} ({defaults}) is {days} days; {limit}: give a start_date")
        raise InvalidParameter("end_date", f"the range is {days} days; {limit}")
    return Period(
        start_date=start_date,
        end_date=end_date,
        tz=tz,
        range_start=instant(start_date, tz),
        range_end=instant(end_date + dt.timedelta(days=1), tz),
    )


@dataclass(frozen=True)
class Query:
    """One request, validated, in canonical form (UUIDs lowercase). Dates and the timezone are
    as the caller gave them (None: the default, resolved with the tenant's timezone)."""

    tenant_id: str
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    outlet_id: str | None = None
    tz: str | None = None
    granularity: str = "day"
    #: The summary's comparison (docs/metrics.md §7.3): None, or "previous".
    compare: str | None = None
    #: The metric anomalies are looked for in, or forecast (docs/anomalies.md); None elsewhere.
    metric: str | None = None
    #: Which anomalies: both (default), up or down.
    direction: str = "both"
    #: The costs' grouping (docs/metrics.md §8): None, or "market" (per-prefix rows).
    group_by: str | None = None


#: What the costs answer may be grouped by: the market (the prefix of the price table).
GROUPINGS = ("market",)


def grouping(field: str, value: object) -> str | None:
    """The costs' grouping: None (none) or "market"."""
    if value is None or value == "":
        return None
    if value not in GROUPINGS:
        raise InvalidParameter(field, f"must be {' or '.join(GROUPINGS)}, got {shown(value)}")
    return str(value)


#: What a summary may be compared with: the period of the same length just before it.
COMPARISONS = ("previous",)


def comparison(field: str, value: object) -> str | None:
    """A summary's comparison: None (none) or "previous"."""
    if value is None or value == "":
        return None
    if value not in COMPARISONS:
        raise InvalidParameter(field, f"must be {' or '.join(COMPARISONS)}, got {shown(value)}")
    return str(value)


#: The metrics anomalies are looked for in and those a month is forecast for
#: (crm_metrics/anomalies.py holds how each varies).
ANOMALY_METRICS = ("total_conversations", "total_messages", "handoff_rate", "resolution_rate", "containment_rate", "average_response_time_seconds", "total_cost")
FORECAST_METRICS = ("total_cost", "total_conversations", "total_messages")
DIRECTIONS = ("both", "up", "down")


def metric_choice(field: str, value: object, choices: tuple[str, ...] = ANOMALY_METRICS) -> str | None:
    """A watched metric: one of `choices`, or None when not given."""
    if value is None or value == "":
        return None
    if value not in choices:
        near = difflib.get_close_matches(value, choices, n=1) if isinstance(value, str) and len(value) <= SHOWN_CHARS else []
        hint = f". Did you mean {near[0]!r}?" if near else ""
        raise InvalidParameter(field, f"must be one of {', '.join(choices)}, got {shown(value)}{hint}")
    return str(value)


def direction_choice(field: str, value: object) -> str:
    """Which anomalies: both (default), up or down."""
    if value is None or value == "":
        return "both"
    if value not in DIRECTIONS:
        raise InvalidParameter(field, f"must be one of {', '.join(DIRECTIONS)}, got {shown(value)}")
    return str(value)


def previous(period: Period) -> Period:
    """The n days just before a period of n days, in its timezone (docs/metrics.md §7.3)."""
    days = dt.timedelta(days=(period.end_date - period.start_date).days + 1)
    start = period.start_date - days
    return Period(start, period.start_date - dt.timedelta(days=1), period.tz, instant(start, period.tz), period.range_start)


def query(
    tenant_id: object,
    start_date: object = None,
    end_date: object = None,
    outlet_id: object = None,
    tz: object = None,
    granularity: object = None,
    compare: object = None,
    group_by: object = None,
    *,
    metric: object = None,
    direction: object = None,
    tenant_field: str = "tenant_id",
) -> Query:
    """Validate every field of a request; an error names the field as the caller spells it
    (`tenant_field`: the HTTP server's is the X-Tenant-Id header)."""
    return Query(
        tenant_id=uuid(tenant_field, tenant_id),
        start_date=date("start_date", start_date),
        end_date=date("end_date", end_date),
        outlet_id=optional_uuid("outlet_id", outlet_id),
        tz=timezone("tz", tz),
        granularity=grain("granularity", granularity),
        compare=comparison("compare", compare),
        group_by=grouping("group_by", group_by),
        metric=metric_choice("metric", metric),
        direction=direction_choice("direction", direction),
    )
