"""The anomaly detector's evaluation on synthetic daily series with fixed seeds (docs/anomalies.md):
weekly seasonality, a trend and noise at several volumes, with spikes, drops and level shifts
injected at known sizes. tests/test_anomalies.py holds the targets on a small run;
bench/anomalies.py runs a larger one into bench/report.md.

Each series is one watched metric with its volume column, as sql/metrics/daily_values.sql gives
them: counts are Poisson around a level that moves by weekday, trend and day-to-day noise;
rates are binomial in the day's conversations; the response time is a mean of the day's turns;
the cost is the messages' price. A departure of size s moves the day's value by s times the
day's true standard deviation (of the generating process: the spread a "robust SD" estimates):
a spike or a drop sets the day's value that many sd from the day's true mean; a level shift
adds that many sd to every day from it on.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from crm_metrics.anomalies import WATCHED, Thresholds, detect

#: Weekday multipliers, Monday first: busy weekdays, quiet weekends.
SEASON = (1.10, 1.15, 1.10, 1.05, 1.00, 0.60, 0.45)
#: Day-to-day noise of the level (lognormal sigma) and of rates (absolute sd).
LEVEL_NOISE = 0.08
RATE_NOISE = 0.02
RATES = {"handoff_rate": 0.12, "resolution_rate": 0.72, "containment_rate": 0.55}
RESPONSE_SECONDS, RESPONSE_CV = 25.0, 1.0
MESSAGES_PER_CONVERSATION, COST_PER_MESSAGE = 10.0, 0.0106
TURNS_PER_CONVERSATION = 4.0
FIRST = dt.date(2025, 1, 6)  # a Monday
KINDS = ("spike", "drop", "shift")
#: Days between injected departures (about one in 17 days: anomalies are rare)
INJECT_EVERY = 17
#: Days after a level shift whose flags are true alarms (the history takes it in after that).
SHIFT_DAYS = 28
#: A shift counts as found when a flag falls within this many days of it.
SHIFT_FOUND_DAYS = 7


def poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean < 30:
        limit, k, product = math.exp(-mean), 0, rng.random()
        while product > limit:
            k += 1
            product *= rng.random()
        return k
    return max(0, round(rng.gauss(mean, math.sqrt(mean))))


def binomial(rng: random.Random, n: int, p: float) -> int:
    p = min(max(p, 0.0), 1.0)
    if n < 60:
        return sum(rng.random() < p for _ in range(n))
    return min(n, max(0, round(rng.gauss(n * p, math.sqrt(n * p * (1 - p))))))


@dataclass
class Series:
    """One metric's daily values (the columns detection reads) and the true sd of each day."""

    metric: str
    volume: float
    days: dict[dt.date, dict[str, Any]]
    sd: dict[dt.date, float]
    #: The true mean of each day's value (what a spike or a drop departs from).
    mean: dict[dt.date, float]
    #: Injected departures: day -> (kind, size in sd).
    injected: dict[dt.date, tuple[str, float]] = field(default_factory=dict)


def clean(metric: str, level: float, n_days: int, seed: int, trend: float = 0.3) -> Series:
    """`n_days` of one metric around `level` conversations a day (a relative `trend` a year)."""
    rng = random.Random(seed)
    days: dict[dt.date, dict[str, Any]] = {}
    sd: dict[dt.date, float] = {}
    means: dict[dt.date, float] = {}
    for i in range(n_days):
        day = FIRST + dt.timedelta(days=i)
        mean = level * SEASON[day.weekday()] * (1 + trend * i / 365)
        lam = mean * math.exp(rng.gauss(0, LEVEL_NOISE) - LEVEL_NOISE**2 / 2)
        conversations = poisson(rng, lam)
        count_sd = lambda m: math.sqrt(m + (m * LEVEL_NOISE) ** 2)  # noqa: E731 - Poisson around a lognormal level
        row: dict[str, Any] = {"total_conversations": conversations}
        if metric == "total_conversations":
            sd[day], means[day] = count_sd(mean), mean
        elif metric in ("total_messages", "total_cost"):
            messages = poisson(rng, lam * MESSAGES_PER_CONVERSATION)
            row["total_messages"] = messages
            m_sd = count_sd(mean * MESSAGES_PER_CONVERSATION)
            if metric == "total_cost":
                row["total_cost"] = messages * COST_PER_MESSAGE
                sd[day], means[day] = m_sd * COST_PER_MESSAGE, mean * MESSAGES_PER_CONVERSATION * COST_PER_MESSAGE
            else:
                sd[day], means[day] = m_sd, mean * MESSAGES_PER_CONVERSATION
        elif metric in RATES:
            p = min(max(RATES[metric] + rng.gauss(0, RATE_NOISE), 0.0), 1.0)
            hits = binomial(rng, conversations, p)
            row[metric] = hits / conversations if conversations else None
            n = max(conversations, 1)
            sd[day], means[day] = math.sqrt(RATES[metric] * (1 - RATES[metric]) / n + RATE_NOISE**2), RATES[metric]
        else:  # average_response_time_seconds: the mean of the day's answered turns
            turns = poisson(rng, lam * TURNS_PER_CONVERSATION)
            row["answered_turns"] = turns
            within = RESPONSE_SECONDS * RESPONSE_CV / math.sqrt(max(turns, 1))
            row[metric] = RESPONSE_SECONDS * math.exp(rng.gauss(0, LEVEL_NOISE / 2)) + rng.gauss(0, within) if turns else None
            sd[day], means[day] = math.sqrt(within**2 + (RESPONSE_SECONDS * LEVEL_NOISE / 2) ** 2), RESPONSE_SECONDS
        days[day] = row
    return Series(metric, level, days, sd, means)


def _volume(series: Series, day: dt.date) -> float:
    return float(series.days[day].get(WATCHED[series.metric].volume) or 0)


def inject(series: Series, kind: str, size: float, start: int, every: int, seed: int, thresholds: Thresholds) -> Series:
    """Departures of `size` sd from day `start` on, one every `every` days, on days whose
    volume is at the floor or over (under it the guard rightly stays silent). A shift moves
    every day after it by the same amount (in the day's own sd)."""
    rng = random.Random(seed)
    days = sorted(series.days)
    watched = WATCHED[series.metric]
    i = start
    while i < len(days) - SHIFT_DAYS:
        day = days[i + rng.randrange(0, 3)]
        value = series.days[day].get(series.metric)
        sign = -1 if kind == "drop" or (kind == "shift" and rng.random() < 0.5) else 1
        # Only departures that fit: a drop of 8 sd below a 12% rate would end under zero.
        fits = value is not None and 0 <= series.mean[day] + sign * size * series.sd[day] <= (1 if watched.kind == "rate" else math.inf)
        if _volume(series, day) >= thresholds.min_volume and fits:
            series.injected[day] = (kind, size)
            affected = [day] if kind != "shift" else [d for d in days if d >= day]
            for d in affected:
                value = series.days[d].get(series.metric)
                if value is None:
                    continue
                # A spike or a drop: the day's value is `size` sd from the day's true mean. A
                # shift moves the mean: every later day's value by `size` of its sd.
                moved = (value if kind == "shift" else series.mean[d]) + sign * size * series.sd[d]
                moved = max(moved, 0.0)
                if watched.kind == "rate":
                    moved = min(moved, 1.0)
                series.days[d][series.metric] = moved
            if kind == "shift":
                break  # one shift per series: later days all carry it
        i += every
    return series


@dataclass
class Score:
    found: int = 0
    injected: int = 0
    true_flags: int = 0
    flags: int = 0

    def add(self, other: Score) -> None:
        self.found += other.found
        self.injected += other.injected
        self.true_flags += other.true_flags
        self.flags += other.flags

    @property
    def recall(self) -> float | None:
        return self.found / self.injected if self.injected else None

    @property
    def precision(self) -> float | None:
        return self.true_flags / self.flags if self.flags else None


def score(series: Series, start: dt.date, end: dt.date, thresholds: Thresholds) -> Score:
    flagged = {flag.date for flag in detect(series.days, series.metric, start, end, thresholds)}
    result = Score(flags=len(flagged))
    true_days: set[dt.date] = set()
    for day, (kind, _) in series.injected.items():
        if not start <= day <= end:
            continue
        result.injected += 1
        if kind == "shift":
            window = {day + dt.timedelta(days=k) for k in range(SHIFT_DAYS)}
            true_days |= window
            result.found += any(day + dt.timedelta(days=k) in flagged for k in range(SHIFT_FOUND_DAYS))
        else:
            true_days.add(day)
            result.found += day in flagged
    result.true_flags = len(flagged & true_days)
    return result


#: Conversations a day around which series are drawn (the volume guard's floor is 20).
VOLUMES = (40, 150, 1000, 10000)
SIZES = (3.0, 4.0, 5.0, 6.0, 8.0)
UNDER_FLOOR_VOLUMES = (2, 5, 10)


def evaluate(
    seeds: range, days: int = 180, thresholds: Thresholds = Thresholds(), volumes: tuple[float, ...] = VOLUMES, sizes: tuple[float, ...] = SIZES
) -> dict[str, Any]:
    """Recall and precision per metric, kind and size; false alarms per 90 days on clean series;
    alarms on series under the volume floor. `days` evaluated after the history."""
    history = 7 * thresholds.history_weeks
    n_days = history + days
    start, end = FIRST + dt.timedelta(days=history), FIRST + dt.timedelta(days=n_days - 1)
    by_size: dict[str, dict[str, Score]] = {}
    by_metric: dict[str, dict[str, Score]] = {}
    false_alarms: dict[str, int] = {}
    clean_days: dict[str, int] = {}
    under_floor: dict[str, int] = {}
    for metric in WATCHED:
        false_alarms[metric] = clean_days[metric] = under_floor[metric] = 0
        by_metric[metric] = {}
        for seed in seeds:
            for volume in volumes:
                base_seed = seed * 100_000 + int(volume) + 17 * list(WATCHED).index(metric)
                calm = clean(metric, volume, n_days, base_seed)
                false_alarms[metric] += score(calm, start, end, thresholds).flags
                clean_days[metric] += days
                for kind in KINDS:
                    for size in sizes:
                        series = clean(metric, volume, n_days, base_seed)
                        inject(series, kind, size, history + 3, INJECT_EVERY, seed * 7 + int(size * 10), thresholds)
                        s = score(series, start, end, thresholds)
                        by_size.setdefault(f"{kind} {size:g} sd", {}).setdefault("all", Score()).add(s)
                        by_metric[metric].setdefault(f"{size:g}", Score()).add(s)
            for volume in UNDER_FLOOR_VOLUMES:
                # In the metric's own volume: messages are about ten a conversation.
                per = MESSAGES_PER_CONVERSATION if WATCHED[metric].volume == "total_messages" else 1.0
                series = clean(metric, volume / per, n_days, seed * 1000 + volume)
                guard = WATCHED[metric].volume
                for row in series.days.values():  # series that stay under the floor
                    if row.get(guard, 0) >= thresholds.min_volume:
                        row[guard] = thresholds.min_volume - 1
                        if metric == "total_cost":
                            row[metric] = row[guard] * COST_PER_MESSAGE
                for day in list(series.days)[history::9]:  # spikes that stay under the floor
                    row = series.days[day]
                    if WATCHED[metric].kind == "count":
                        row[metric] = min(float(row[metric]) * 3, thresholds.min_volume - 1)
                under_floor[metric] += score(series, start, end, thresholds).flags
    return {
        "seeds": [seeds.start, seeds.stop],
        "days_evaluated": days,
        "volumes": list(volumes),
        "by_size": {k: _figures(v["all"]) for k, v in sorted(by_size.items(), key=lambda kv: (kv[0].split()[0], float(kv[0].split()[1])))},
        "by_metric_and_size": {m: {s: _figures(v) for s, v in sizes_.items()} for m, sizes_ in by_metric.items()},
        "false_alarms_per_90_days": {m: 90 * false_alarms[m] / clean_days[m] for m in WATCHED},
        "alarms_under_floor": under_floor,
    }


def _figures(s: Score) -> dict[str, Any]:
    return {"injected": s.injected, "found": s.found, "flags": s.flags, "true_flags": s.true_flags, "recall": s.recall, "precision": s.precision}


def summary(result: Mapping[str, Any], min_size: float = 5.0) -> dict[str, float | None]:
    """Recall and precision over the departures of at least `min_size` sd, the worst metric's
    false alarms per 90 days, and alarms under the floor."""
    total = Score()
    for key, figures in result["by_size"].items():
        if float(key.split()[1]) >= min_size:
            total.add(Score(figures["found"], figures["injected"], figures["true_flags"], figures["flags"]))
    return {
        "recall": total.recall,
        "precision": total.precision,
        "worst_false_alarms_per_90_days": max(result["false_alarms_per_90_days"].values()),
        "alarms_under_floor": sum(result["alarms_under_floor"].values()),
    }


def iter_sizes(result: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    yield from result["by_size"].items()
