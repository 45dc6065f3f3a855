"""Request validation (docs/metrics.md §2): every bad value is an InvalidParameter naming its field."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from crm_metrics import InvalidParameter, Metrics, Settings, request
from crm_metrics.request import instant, period

TENANT = "123e4567-e89b-12d3-a456-426614174000"
NOW = dt.datetime(2025, 11, 4, 20, 0, tzinfo=dt.UTC)

BAD = [
    ({"tenant_id": "not-a-uuid"}, "tenant_id"),
    ({"tenant_id": ""}, "tenant_id"),
    ({"tenant_id": None}, "tenant_id"),
    ({"tenant_id": "123e4567e89b12d3a456426614174000"}, "tenant_id"),
    ({"tenant_id": "{123e4567-e89b-12d3-a456-426614174000}"}, "tenant_id"),
    ({"start_date": "2025-13-01"}, "start_date"),
    ({"start_date": "2025-02-29"}, "start_date"),
    ({"start_date": "01/11/2025"}, "start_date"),
    ({"start_date": "20251101"}, "start_date"),
    ({"end_date": "2025-11-01T00:00:00"}, "end_date"),
    ({"end_date": "9999-12-31"}, "end_date"),
    ({"start_date": "0001-01-01"}, "start_date"),
    ({"start_date": "2025-11-05", "end_date": "2025-11-04"}, "start_date"),
    ({"start_date": "2024-01-01", "end_date": "2025-01-01"}, "end_date"),
    ({"outlet_id": "outlet-1"}, "outlet_id"),
    ({"tz": "Asia/Jakata"}, "tz"),
    ({"tz": "utc"}, "tz"),
    ({"tz": "+07:00"}, "tz"),
    ({"tz": "../../etc/passwd"}, "tz"),
    # In zoneinfo.available_timezones() on some hosts, but no place: their meaning is the host's.
    ({"tz": "localtime"}, "tz"),
    ({"tz": "Factory"}, "tz"),
    ({"tz": "posixrules"}, "tz"),
    ({"granularity": "year"}, "granularity"),
    ({"granularity": "Day"}, "granularity"),
]


@pytest.fixture(scope="module")
def metrics() -> Metrics:
    metrics = Metrics.connect("duckdb:///:memory:", clock=lambda: NOW)
    metrics.store.init_db()
    return metrics


@pytest.mark.parametrize(("change", "field"), BAD, ids=[f"{f}={list(c.values())[-1]!r}" for c, f in BAD])
def test_invalid_input_names_the_field(metrics: Metrics, change: dict, field: str) -> None:
    args = {"tenant_id": TENANT, "start_date": "2025-11-01", "end_date": "2025-11-04", **change}
    with pytest.raises(InvalidParameter) as error:
        metrics.dashboard(**args)
    assert error.value.field == field
    assert str(error.value).startswith(f"{field}: ")


def test_range_limit_counts_inclusively(metrics: Metrics) -> None:
    assert len(metrics.dashboard(TENANT, "2024-01-01", "2024-12-31").conversations) == 366
    with pytest.raises(InvalidParameter):
        metrics.dashboard(TENANT, "2023-12-31", "2024-12-31")  # 367 days
    narrow = Metrics(metrics.executor, Settings(max_range_days=7), clock=lambda: NOW)
    with pytest.raises(InvalidParameter, match="at most 7"):
        narrow.summary(TENANT, "2025-11-01", "2025-11-08")


def test_defaults_follow_the_seed(metrics: Metrics) -> None:
    """end = today in the request's timezone, start = end - 30 days (2025-10-05 .. 2025-11-04)."""
    summary = metrics.summary(TENANT)
    assert (summary.period_start, summary.period_end, summary.timezone) == (dt.date(2025, 10, 5), dt.date(2025, 11, 4), "UTC")
    # 20:00 UTC is already the 5th in Jakarta.
    late = metrics.summary(TENANT, tz="Asia/Jakarta")
    assert (late.period_start, late.period_end) == (dt.date(2025, 10, 6), dt.date(2025, 11, 5))
    only_start = metrics.dashboard(TENANT, start_date="2025-11-01")
    assert (only_start.period_start, only_start.period_end) == (dt.date(2025, 11, 1), dt.date(2025, 11, 4))
    only_end = metrics.dashboard(TENANT, end_date="2025-10-31")
    assert only_end.period_start == dt.date(2025, 10, 1)


def test_date_objects_and_case_of_uuids(metrics: Metrics) -> None:
    upper = TENANT.upper()
    summary = metrics.summary(upper, dt.date(2025, 11, 1), dt.date(2025, 11, 4))
    assert summary.tenant_id == TENANT


@pytest.mark.parametrize(
    ("day", "tz", "utc"),
    [
        (dt.date(2025, 3, 9), "America/New_York", dt.datetime(2025, 3, 9, 5, tzinfo=dt.UTC)),
        (dt.date(2025, 3, 10), "America/New_York", dt.datetime(2025, 3, 10, 4, tzinfo=dt.UTC)),
        # Chile skips midnight when DST starts: the day begins at the transition (01:00 local).
        (dt.date(2024, 9, 8), "America/Santiago", dt.datetime(2024, 9, 8, 4, tzinfo=dt.UTC)),
        (dt.date(2025, 11, 1), "Asia/Kathmandu", dt.datetime(2025, 10, 31, 18, 15, tzinfo=dt.UTC)),
    ],
)
def test_local_midnight_as_an_instant(day: dt.date, tz: str, utc: dt.datetime) -> None:
    assert instant(day, tz) == utc


def test_a_dst_day_is_23_hours_long() -> None:
    p = period(dt.date(2025, 3, 9), dt.date(2025, 3, 9), "America/New_York", now=NOW, max_days=366)
    assert p.range_end - p.range_start == dt.timedelta(hours=23)


LONG = "x" * 100_000


@pytest.mark.parametrize("field", ["tenant_id", "start_date", "end_date", "outlet_id", "tz", "granularity"])
def test_an_echoed_value_is_cut(metrics: Metrics, field: str) -> None:
    """Messages reach HTTP bodies: a 100 KB value comes back as a few dozen characters."""
    with pytest.raises(InvalidParameter) as error:
        metrics.dashboard(**{"tenant_id": TENANT, field: LONG})
    assert error.value.field == field
    assert len(str(error.value)) < 250
    assert "'xxxxxxxx" in error.value.message and "… (100,000 characters)" in error.value.message


def test_shown_keeps_short_values_whole() -> None:
    from crm_metrics.errors import shown

    assert shown("Asia/Jakata") == "'Asia/Jakata'"
    assert shown(None) == "None"
    assert shown(["y" * 100]) == "['" + "y" * 62 + "…"


def test_host_dependent_names_say_why(metrics: Metrics) -> None:
    with pytest.raises(InvalidParameter, match=r"^tz: 'localtime' is not a portable timezone \(the host's own timezone\)"):
        metrics.summary(TENANT, tz="localtime")


def test_every_accepted_name_is_a_zone_of_the_tz_database() -> None:
    import zoneinfo

    from crm_metrics.request import _zones

    assert {"UTC", "Asia/Jakarta", "America/Sao_Paulo", "US/Eastern", "Etc/GMT+7"} <= _zones()
    assert not {"localtime", "Factory", "posixrules"} & _zones()
    for name in _zones():
        zoneinfo.ZoneInfo(name)


def test_a_too_long_range_blames_the_date_the_caller_gave(metrics: Metrics) -> None:
    """`start_date` alone: the end is today's default, so start_date is what to change."""
    with pytest.raises(InvalidParameter) as error:
        metrics.summary(TENANT, start_date="2020-01-01")
    assert error.value.field == "start_date"
    assert error.value.message == "the range 2020-01-01 .. 2025-11-04 (end_date defaults to today in UTC) is 2135 days; at most 366 are allowed"

    narrow = Metrics(metrics.executor, Settings(max_range_days=7), clock=lambda: NOW)
    with pytest.raises(InvalidParameter) as error:
        narrow.summary(TENANT, end_date="2025-11-04")
    assert error.value.field == "end_date"
    assert "(start_date defaults to end_date - 30 days) is 31 days; at most 7 are allowed: give a start_date" in error.value.message
    with pytest.raises(InvalidParameter) as error:
        narrow.summary(TENANT)
    assert error.value.field == "end_date"
    assert "end_date to today in UTC" in error.value.message

    with pytest.raises(InvalidParameter) as error:
        metrics.summary(TENANT, start_date="2025-12-01")
    assert (error.value.field, error.value.message) == ("start_date", "2025-12-01 is after end_date 2025-11-04 (end_date defaults to today in UTC)")


@pytest.mark.parametrize("tz", ["America/Toronto", "America/Santiago", "America/Havana", "Asia/Beirut", "America/Sao_Paulo"])
def test_a_day_starts_at_its_first_instant_where_a_clock_change_skips_midnight(tz: str) -> None:
    # Every day from 1900 to 2040 whose midnight a clock change skips: the day starts at the
    # change, the first instant whose local date is that day (Toronto 1919-03-30: the clocks
    # went from 23:30 to 00:30, so March 31 starts at 04:30 UTC, not at 05:00).
    zone = zoneinfo.ZoneInfo(tz)
    day, gaps = dt.date(1900, 1, 2), 0
    while day < dt.date(2040, 1, 1):
        midnight = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
        if midnight.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None) != midnight.replace(tzinfo=None):
            start = request.instant(day, tz)
            assert start.astimezone(zone).date() == day and (start - dt.timedelta(seconds=1)).astimezone(zone).date() < day, day
            gaps += 1
        day += dt.timedelta(days=1)
    assert gaps
    assert request.instant(dt.date(1919, 3, 31), "America/Toronto") == dt.datetime(1919, 3, 31, 4, 30, tzinfo=dt.UTC)


def test_a_day_whose_midnight_a_change_skips_counts_its_first_half_hour() -> None:
    with Metrics.connect("duckdb:///:memory:") as metrics:
        metrics.store.init_db()
        tenant = "7a1e3c1e-0000-4000-8000-000000000001"
        metrics.store.load_rows("conversations", [
            {"id": "c1", "tenant_id": tenant, "customer_phone": "+1", "status": "active", "started_at": "1919-03-31T04:45:00Z"}
        ])
        for day, count in (("1919-03-30", 0), ("1919-03-31", 1)):
            assert metrics.summary(tenant, day, day, tz="America/Toronto").total_conversations == count
        dashboard = metrics.dashboard(tenant, "1919-03-30", "1919-03-31", tz="America/Toronto")
        assert [row.total_conversations for row in dashboard.conversations] == [0, 1]
