"""Anomaly detection and the month's forecast over daily values: small, pure and explainable
(docs/anomalies.md). The daily values come from sql/metrics/daily_values.sql; nothing here
reads a database, a clock or the environment.

A day's expected value is the median of the same weekday over the previous `history_weeks`
weeks (at least `min_history` of them with data). The band around it is `band` times a robust
spread: the scaled MAD of those weeks (1.4826 x the median absolute deviation: the standard
deviation of normal noise), never less than a floor that says how much a value of that size
varies by chance alone (Poisson counts, binomial rates, means of n values). A day is an anomaly
when its value leaves the band, unless its volume is under `min_volume` (the volume guard: two
conversations becoming four on a Sunday is no news).
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crm_metrics.config import Settings

#: What turns a median absolute deviation into a standard deviation for normal noise.
MAD_TO_SD = 1.4826
TINY_SPREAD = 1e-9

#: A day's row of sql/metrics/daily_values.sql: column name -> value.
Day = Mapping[str, Any]


@dataclass(frozen=True)
class Watched:
    """A metric anomalies are looked for in: its column, the column that counts its volume
    (what the volume guard and the chance floor read), and how it varies by chance: `count`
    (Poisson: sd = sqrt(value)), `amount` (a sum driven by a count: relative sd =
    1/sqrt(count)), `rate` (binomial: sd = sqrt(p(1 - p)/n)) or `mean` (a mean of n values:
    relative sd = 1/sqrt(n))."""

    name: str
    volume: str
    kind: str


WATCHED: dict[str, Watched] = {
    w.name: w
    for w in (
        Watched("total_conversations", "total_conversations", "count"),
        Watched("total_messages", "total_messages", "count"),
        Watched("total_cost", "total_messages", "amount"),
        Watched("handoff_rate", "total_conversations", "rate"),
        Watched("resolution_rate", "total_conversations", "rate"),
        Watched("containment_rate", "total_conversations", "rate"),
        Watched("average_response_time_seconds", "answered_turns", "mean"),
    )
}


@dataclass(frozen=True)
class Thresholds:
    """The detection's settings (ANOMALY_* in docs/configuration.md)."""

    history_weeks: int = 8
    min_history: int = 3
    band: float = 3.3
    min_volume: int = 20
    min_relative_spread: float = 0.01


    @classmethod
    def of(cls, settings: Settings) -> Thresholds:
        return cls(
            settings.anomaly_history_weeks, settings.anomaly_min_history, settings.anomaly_band,
            settings.anomaly_min_volume, settings.anomaly_min_relative_spread,
        )


@dataclass(frozen=True)
class Baseline:
    expected: float
    spread: float
    lower: float
    upper: float


@dataclass(frozen=True)
class Flag:
    date: dt.date
    value: float
    expected: float
    lower: float
    upper: float
    direction: str
    score: float


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def quantile(values: Sequence[float], p: float) -> float:
    """PERCENTILE_CONT of the values (docs/metrics.md §7): x[⌊h⌋] + (h − ⌊h⌋)(x[⌊h⌋+1] − x[⌊h⌋]),
    h = (n − 1)·p."""
    ordered = sorted(values)
    h = (len(ordered) - 1) * p
    low = math.floor(h)
    if low + 1 >= len(ordered):
        return float(ordered[low])
    return float(ordered[low] + (h - low) * (ordered[low + 1] - ordered[low]))


def _has_data(row: Day | None, watched: Watched) -> bool:
    """A history day counts when its value exists and something was counted that day (days
    before a tenant started, or of an outage, are no history)."""
    return row is not None and row.get(watched.name) is not None and (row.get(watched.volume) or 0) > 0


def same_weekdays(day: dt.date, weeks: int) -> list[dt.date]:
    """The same weekday in each of the `weeks` weeks before `day`, latest first."""
    return [day - dt.timedelta(weeks=i) for i in range(1, weeks + 1)]


def _floor(watched: Watched, expected: float, volume: float, expected_volume: float, thresholds: Thresholds) -> float:
    """The least spread a value of this size has by chance alone."""
    relative = thresholds.min_relative_spread * abs(expected)
    if watched.kind == "count":
        chance = math.sqrt(max(expected, 1.0))
    elif watched.kind == "amount":
        chance = abs(expected) / math.sqrt(max(expected_volume, 1.0))
    elif watched.kind == "rate":
        n = max(volume, 1.0)
        # A rate of exactly 0 or 1 so far still varies by about one case in n.
        p = min(max(expected, 1.0 / n), 1.0 - 1.0 / n) if n > 1 else 0.5
        chance = math.sqrt(p * (1.0 - p) / n)
    else:
        chance = abs(expected) / math.sqrt(max(volume, 1.0))
    return max(relative, chance)


def _group_deviations(days: Mapping[dt.date, Day], last: dt.date, watched: Watched, weeks: int) -> list[float]:
    """The deviations of one weekday's days over `weeks` weeks ending at `last`: each day's
    distance from the median of the others (relative to it, or absolute for rates)."""
    same = [d for d in same_weekdays(last + dt.timedelta(weeks=1), weeks) if _has_data(days.get(d), watched)]
    values = [float(days[d][watched.name]) for d in same]
    deviations: list[float] = []
    if len(values) < 3:
        return deviations
    for i, value in enumerate(values):
        middle = median(values[:i] + values[i + 1 :])
        if watched.kind == "rate":
            deviations.append(abs(value - middle))
        elif middle != 0:
            deviations.append(abs(value - middle) / abs(middle))
    return deviations


#: Deviations per (weekday's last date, weeks), shared by the days of one detection run.
Cache = dict[tuple[dt.date, int], list[float]]


def _weekday_deviations(days: Mapping[dt.date, Day], day: dt.date, watched: Watched, weeks: int, cache: Cache | None = None) -> list[float]:
    """How far each history day lies from the median of the other days of its weekday, over
    the `weeks` weeks before `day` (all seven weekdays: 8 weeks give up to 56 deviations, a far
    steadier spread than one weekday's 8). Leaving the day out measures exactly what a day is
    judged by: its distance from a median of the weeks before it (a day's own median would
    shrink the spread by about a sixth). Relative to that median for counts, amounts and means,
    whose spread grows with their size (a quiet Sunday varies less than a busy Monday);
    absolute for rates."""
    cache = {} if cache is None else cache
    deviations: list[float] = []
    for back in range(1, 8):
        key = (day - dt.timedelta(days=back), weeks)
        if key not in cache:
            cache[key] = _group_deviations(days, key[0], watched, weeks)
        deviations += cache[key]
    return deviations


def baseline(days: Mapping[dt.date, Day], day: dt.date, watched: Watched, thresholds: Thresholds, cache: Cache | None = None) -> Baseline | None:
    """The expected value and band of `day` from the same weekday of the previous weeks; None
    with fewer than `min_history` of them holding data."""
    history = [days[d] for d in same_weekdays(day, thresholds.history_weeks) if _has_data(days.get(d), watched)]
    if len(history) < thresholds.min_history:
        return None
    expected = median([float(row[watched.name]) for row in history])
    deviations = _weekday_deviations(days, day, watched, thresholds.history_weeks, cache)
    mad = median(deviations) if deviations else 0.0
    robust = MAD_TO_SD * mad * (1.0 if watched.kind == "rate" else abs(expected))
    row = days.get(day) or {}
    volume = float(row.get(watched.volume) or 0)
    expected_volume = median([float(r[watched.volume]) for r in history])
    # A history with no spread and no floor (an amount of 0 every week) still divides.
    spread = max(robust, _floor(watched, expected, volume, expected_volume, thresholds), TINY_SPREAD)
    lower, upper = expected - thresholds.band * spread, expected + thresholds.band * spread
    if watched.kind != "mean":
        lower = max(lower, 0.0)  # counts, amounts and rates are never negative
    if watched.kind == "rate":
        upper = min(upper, 1.0)
    return Baseline(expected, spread, lower, upper)


def guarded(days: Mapping[dt.date, Day], day: dt.date, watched: Watched, thresholds: Thresholds) -> bool:
    """The volume guard: whether the day is too small to judge. Counts and amounts: when both
    the day's volume and the expected volume are under `min_volume`; rates and means: when
    the day's denominator is (a rate of 3 conversations says little, however many were
    expected)."""
    row = days.get(day) or {}
    volume = float(row.get(watched.volume) or 0)
    if watched.kind in ("rate", "mean"):
        return volume < thresholds.min_volume
    history = [float(days[d][watched.volume]) for d in same_weekdays(day, thresholds.history_weeks) if _has_data(days.get(d), watched)]
    expected_volume = median(history) if history else 0.0
    return max(volume, expected_volume) < thresholds.min_volume


def detect(
    days: Mapping[dt.date, Day],
    metric: str,
    start: dt.date,
    end: dt.date,
    thresholds: Thresholds = Thresholds(),
    direction: str = "both",
) -> list[Flag]:
    """The days of [start, end] whose value of `metric` leaves its band, in date order.
    `days` holds the daily values from `history_weeks` weeks before `start` (missing days:
    no data)."""
    watched = WATCHED[metric]
    flags = []
    cache: Cache = {}
    day = start
    while day <= end:
        flag = _judge(days, day, watched, thresholds, cache)
        if flag is not None and direction in ("both", flag.direction):
            flags.append(flag)
        day += dt.timedelta(days=1)
    return flags


def _judge(days: Mapping[dt.date, Day], day: dt.date, watched: Watched, thresholds: Thresholds, cache: Cache) -> Flag | None:
    row = days.get(day)
    if row is None or row.get(watched.name) is None or guarded(days, day, watched, thresholds):
        return None
    found = baseline(days, day, watched, thresholds, cache)
    if found is None:
        return None
    value = float(row[watched.name])
    if found.lower <= value <= found.upper:
        return None
    score = (value - found.expected) / found.spread
    return Flag(day, value, found.expected, found.lower, found.upper, "up" if value > found.upper else "down", score)


@dataclass(frozen=True)
class Projection:
    """A day's projection: the median and the quantiles of the same weekday's recent values."""

    date: dt.date
    expected: float
    lower: float
    upper: float


def project(
    days: Mapping[dt.date, Day],
    metric: str,
    first: dt.date,
    last: dt.date,
    as_of: dt.date,
    weeks: int,
    quantiles: tuple[float, float],
) -> list[Projection]:
    """Each day of [first, last] projected from the same weekday of the `weeks` weeks before
    `as_of` (the first day without a complete value): their median, and the two quantiles
    as its range. A weekday without any such day projects 0."""
    projections = []
    day = first
    while day <= last:
        # The latest same weekday before as_of, then the weeks before it.
        latest = day - dt.timedelta(weeks=max(0, (day - as_of).days // 7 + 1))
        values = [float(days[d][metric]) for d in (latest - dt.timedelta(weeks=i) for i in range(weeks)) if days.get(d) is not None and days[d].get(metric) is not None]
        if values:
            projections.append(Projection(day, median(values), quantile(values, quantiles[0]), quantile(values, quantiles[1])))
        else:
            projections.append(Projection(day, 0.0, 0.0, 0.0))
        day += dt.timedelta(days=1)
    return projections


def month_bounds(day: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last date of `day`'s calendar month."""
    first = day.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return first, following - dt.timedelta(days=1)


def history_start(start: dt.date, weeks: int) -> dt.date:
    """The first day of the history the range's first day needs."""
    return start - dt.timedelta(weeks=weeks)


@dataclass(frozen=True)
class MonthForecast:
    """A month as of a day: the sum of its complete days before `as_of`, the projection of the
    rest (`as_of` to the month's end), and the previous month's sum."""

    first: dt.date
    last: dt.date
    as_of: dt.date
    actual: float
    projections: list[Projection]
    previous_first: dt.date
    previous_last: dt.date
    previous: float

    @property
    def projected(self) -> float:
        return self.actual + sum(p.expected for p in self.projections)

    @property
    def lower(self) -> float:
        return self.actual + sum(p.lower for p in self.projections)

    @property
    def upper(self) -> float:
        return self.actual + sum(p.upper for p in self.projections)


def _sum(days: Mapping[dt.date, Day], metric: str, first: dt.date, last: dt.date) -> float:
    total, day = 0.0, first
    while day <= last:
        total += float((days.get(day) or {}).get(metric) or 0)
        day += dt.timedelta(days=1)
    return total


def forecast_month(days: Mapping[dt.date, Day], metric: str, as_of: dt.date, weeks: int, quantiles: tuple[float, float]) -> MonthForecast:
    """The month of `as_of` from `days` (which hold the previous month and the `weeks` weeks
    before `as_of`): what the complete days so far add up to, plus each remaining day's
    same-weekday projection. Quantiles of days are summed into the range: a deliberately wide
    range, as days of one month do not vary independently."""
    first, last = month_bounds(as_of)
    previous_first, previous_last = month_bounds(first - dt.timedelta(days=1))
    return MonthForecast(
        first, last, as_of,
        _sum(days, metric, first, as_of - dt.timedelta(days=1)),
        project(days, metric, as_of, last, as_of, weeks, quantiles),
        previous_first, previous_last,
        _sum(days, metric, previous_first, previous_last),
    )


def forecast_start(as_of: dt.date, weeks: int) -> dt.date:
    """The first day a forecast as of `as_of` reads: the previous month's first, or the
    history's, whichever is earlier."""
    previous_first = month_bounds(month_bounds(as_of)[0] - dt.timedelta(days=1))[0]
    return min(previous_first, as_of - dt.timedelta(weeks=weeks))
