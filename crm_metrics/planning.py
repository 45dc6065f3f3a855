"""Planning: which rows a request reads and in which shape its SQL is compiled.

A request, validated and resolved (crm_metrics/request.py), becomes a `Plan`: one frozen
`Shape` (the compiler's cache key: layout, outlet filter, granularity, local dates by known UTC
offsets) and the values to bind. The layout is the store's richest (seed, facts, rollup; see
crm_metrics/store.py), except that the rollup answers only ranges whose local days are whole
15-minute UTC slots (every timezone in use today); others read the derived tables.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from dataclasses import dataclass

from crm_metrics.config import Settings
from crm_metrics.prices import PriceTables
from crm_metrics.request import Period
from crm_metrics.templates import CONSTANTS, OFFSET_SLOTS, Shape


#: A range's UTC-offset changes and offsets, in microseconds (see utc_offsets).
Offsets = tuple[tuple[int, ...], tuple[int, ...]]
NO_OFFSETS: Offsets = ((0,) * OFFSET_SLOTS, (0,) * (OFFSET_SLOTS + 1))
#: Under the flat cost model no template reads the price tables: empty ones.
NO_PRICES = PriceTables()


@dataclass(frozen=True)
class Plan:
    shape: Shape
    offsets: Offsets | None


def plan(
    layout: str, period: Period, *, outlet: bool, granularity: str, lookaround_days: int = 0, wall_clock: bool = False,
    priced: bool = False,
) -> Plan:
    """The shape a request over `period` runs in, on a store whose richest layout is `layout`.
    With a look-around bound (LOOKAROUND_DAYS) every store reads its seed tables: the derived
    tables and the rollup hold the unbounded contract's answers, and every engine must give
    the same numbers under the bound. `wall_clock`: the statement reads local wall-clock times
    (the heat map), by the range's UTC offsets on every layout where they are known.
    `priced`: costs by the price tables (COST_MODEL=priced)."""
    if layout == "seed" or lookaround_days:
        if not wall_clock:
            return Plan(Shape("seed", outlet, granularity, bounded=bool(lookaround_days), priced=priced), None)
        known = utc_offsets(period)
        shape = Shape("seed", outlet, granularity, known is not None, bounded=bool(lookaround_days), priced=priced, offset_changes=changes_in(period, known))
        return Plan(shape, known)
    offsets = utc_offsets(period)
    if layout == "rollup" and not on_slots(period, offsets):
        layout = "facts"
    return Plan(Shape(layout, outlet, granularity, offsets is not None, priced=priced, offset_changes=changes_in(period, offsets)), offsets)


def typical(layout: str, *, outlet: bool = False, granularity: str = "day", lookaround_days: int = 0) -> Shape:
    """The shape most requests on `layout` run in (what `Metrics.sql` shows): a range without
    a UTC-offset change."""
    if lookaround_days:
        return Shape("seed", outlet, granularity, bounded=True)
    return Shape(layout, outlet, granularity, layout != "seed", offset_changes=0 if layout != "seed" else OFFSET_SLOTS)


_MICROS = dt.timedelta(microseconds=1)


@functools.lru_cache(maxsize=4096)
def utc_offsets(period: Period) -> Offsets | None:
    """The tz's UTC offset over the range as (changes, offsets) in microseconds since the
    epoch: offsets[0] before changes[0], offsets[i] from changes[i - 1]. Padded to
    OFFSET_SLOTS changes (unused ones at the range's end); None if it changes more often."""
    zone = zoneinfo.ZoneInfo(period.tz)

    def offset(moment: dt.datetime) -> dt.timedelta:
        return moment.astimezone(zone).utcoffset() or dt.timedelta(0)

    changes, offsets = [], [offset(period.range_start)]
    # Offsets change at most a few times a year: step by half a day, then bisect to the
    # microsecond (`high` ends as the first instant of the new offset).
    step, moment = dt.timedelta(hours=12), period.range_start
    while moment < period.range_end:
        following = min(moment + step, period.range_end)
        if offset(following) != offset(moment):
            low, high = moment, following
            while high - low > _MICROS:
                middle = low + (high - low) // 2
                low, high = (middle, high) if offset(middle) == offset(low) else (low, middle)
            changes.append(high)
            offsets.append(offset(high))
        moment = following
    if len(changes) > OFFSET_SLOTS:
        return None
    end = (period.range_end - EPOCH) // _MICROS
    padded_changes = [(c - EPOCH) // _MICROS for c in changes] + [end] * (OFFSET_SLOTS - len(changes))
    padded_offsets = [o // _MICROS for o in offsets] + [offsets[-1] // _MICROS] * (OFFSET_SLOTS - len(changes))
    return tuple(padded_changes), tuple(padded_offsets)


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def changes_in(period: Period, offsets: Offsets | None) -> int:
    """How many of the UTC-offset changes of `utc_offsets` fall inside the range (the padding,
    and a change at its very end, do not: no row of the range reads them); all OFFSET_SLOTS
    when the offsets are unknown (the shape does not read them then)."""
    if offsets is None:
        return OFFSET_SLOTS
    end = (period.range_end - EPOCH) // _MICROS
    return sum(1 for change in offsets[0] if change < end)
SLOT_MICROS = CONSTANTS["SLOT_MICROS"]


def on_slots(period: Period, offsets: Offsets | None) -> bool:
    """Whether every local day of the range is a whole number of 15-minute UTC slots: the
    range's bounds, its UTC offsets and the instants they change fall on slot bounds. True
    for every timezone in use today; not for local mean time (before about 1900) and a few
    historical offsets such as Amsterdam's +00:20 until 1940."""
    if offsets is None:
        return False
    bounds = [(period.range_start - EPOCH) // _MICROS, (period.range_end - EPOCH) // _MICROS]
    return all(value % SLOT_MICROS == 0 for value in (*bounds, *offsets[0], *offsets[1]))


def values(
    tenant_id: str,
    outlet_id: str | None,
    period: Period,
    settings: Settings,
    offsets: Offsets | None = None,
    price_tables: PriceTables | None = None,
) -> dict[str, object]:
    """Every template parameter's value for one resolved request (each template binds the
    ones its header declares and its shape uses); `offsets` from `utc_offsets`, where used."""
    offsets = offsets or NO_OFFSETS
    # The look-around window (the range itself when unbounded: then no template reads it).
    lookaround = dt.timedelta(days=settings.lookaround_days)
    return {
        **{f"tz_change_{i + 1}": change for i, change in enumerate(offsets[0])},
        **{f"tz_offset_{i}": value for i, value in enumerate(offsets[1])},
        "tenant_id": tenant_id,
        "outlet_id": outlet_id,
        "start_date": period.start_date,
        "end_date": period.end_date,
        "tz": period.tz,
        "range_start": period.range_start,
        "range_end": period.range_end,
        "lookaround_start": period.range_start - lookaround,
        "lookaround_end": period.range_end + lookaround,
        "llm_price_per_million_tokens": settings.llm_price_per_million_tokens,
        "whatsapp_price_per_message": settings.whatsapp_price_per_message,
        **(price_tables or NO_PRICES).parameters(),
    }
