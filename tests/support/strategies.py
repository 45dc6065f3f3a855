"""Hypothesis strategies: small, nasty datasets and the requests to ask of them.

The data crosses DST changes (America/New_York, Europe/London, Australia/Lord_Howe's half
hour, America/Santiago's missing midnight), has turns without replies, ties in timestamps,
repeated handoff requests, system and unknown sender types, null, empty, non-object and
malformed metadata, history before the range, rows before a conversation's start, and other
tenants' rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

TENANT = "7a1e3c1e-0000-4000-8000-000000000001"
OTHER_TENANT = "7a1e3c1e-0000-4000-8000-000000000002"
OUTLETS = ("0b1e7000-0000-4000-8000-00000000000a", "0b1e7000-0000-4000-8000-00000000000b")
TIMEZONES = (
    "UTC",
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Asia/Kathmandu",
    "Pacific/Chatham",
)
#: Windows around DST changes: US/Chile in March/April (and Sept), Europe in October,
#: US again in early November.
WINDOWS = (dt.date(2025, 3, 5), dt.date(2025, 10, 22), dt.date(2024, 9, 3))
WINDOW_DAYS = 14

STATUSES = ("active", "resolved", "handed_off", "closed", "Resolved")
SENDERS = ("customer", "customer", "customer", "llm", "llm", "agent", "agent", "system", "bot")
_ODD_META = st.sampled_from([None, {}, [], '"just a string"', "123", "[1, 2]"])
META = st.one_of(
    _ODD_META,
    st.fixed_dictionaries(
        {},
        optional={
            "tokens_used": st.one_of(
                st.integers(-50, 5_000),
                st.sampled_from(["500", "-3", "+7", "1.5", "5e2", " 12", "twelve", "", "12345678901234567890", "٣"]),
                st.sampled_from([1.5, 500.0, True, None, [1]]),
            ),
            "handoff_requested": st.sampled_from([True, "true", False, "false", 1, "yes", "TRUE", None, {"x": 1}]),
            "trigger": st.sampled_from(["keyword", "confidence", "keyword", "confidence", "Keyword", "other", 3, None]),
        },
    ),
    st.fixed_dictionaries(
        {"handoff_requested": st.sampled_from([True, "true"]), "trigger": st.sampled_from(["keyword", "confidence"])}
    ),
    st.fixed_dictionaries({"tokens_used": st.sampled_from([500, "500", "-3", "+7", " 12", "1.5", "5e2", "12345678901234567890"])}),
)


@dataclass(frozen=True)
class Case:
    rows: dict[str, list[dict[str, Any]]]
    start: dt.date
    end: dt.date
    tz: str
    granularity: str
    outlet_id: str | None


@st.composite
def instants(draw: st.DrawFn, first: dt.date, days: int, ties: list[dt.datetime]) -> dt.datetime:
    """An instant on one of `days` days from `first` (now and then the day before or after),
    often equal to an earlier one."""
    if ties and draw(st.integers(0, 4)) == 0:
        return draw(st.sampled_from(ties))
    day = draw(st.sampled_from([*range(days), *range(days), -1, days]))
    base = dt.datetime.combine(first + dt.timedelta(days=day), dt.time(0), tzinfo=dt.UTC)
    # Uniform over the day, with local midnights of the test zones (UTC offsets) likely.
    seconds = draw(st.one_of(st.sampled_from([0, 1, 86_399, 5 * 3600, 4 * 3600, 13 * 3600 + 2700]), st.integers(0, 86_399)))
    micros = draw(st.sampled_from([0, 0, 0, 1, 500_000, 999_999]))
    moment = base + dt.timedelta(seconds=seconds, microseconds=micros)
    ties.append(moment)
    return moment


@st.composite
def datasets(draw: st.DrawFn, window: dt.date, start: dt.date, end: dt.date) -> dict[str, list[dict[str, Any]]]:
    """Rows mostly in [start, end] (a day of slack either side), some anywhere in the window."""
    ties: list[dt.datetime] = []
    near = instants(start, (end - start).days + 1, ties)
    anywhere = instants(window, WINDOW_DAYS, ties)
    conversations, messages = [], []
    n_conversations = draw(st.integers(0, 12))
    for i in range(n_conversations):
        started = draw(st.one_of(near, near, near, anywhere))
        ended = None
        if draw(st.booleans()):
            # Usually after the start; now and then before it (data is taken as it is).
            ended = started + dt.timedelta(seconds=draw(st.integers(-600, 6 * 3600)), microseconds=draw(st.integers(0, 999_999)))
        conversation_id = f"c{i}"
        conversations.append(
            {
                "id": conversation_id,
                # Now and then in upper case, as other applications may write UUIDs.
                "tenant_id": draw(st.sampled_from([TENANT, TENANT, TENANT.upper(), OTHER_TENANT])),
                "outlet_id": draw(st.sampled_from([None, OUTLETS[0], OUTLETS[0].upper(), OUTLETS[1]])),
                "customer_phone": f"+1555{i:07d}",
                "status": draw(st.sampled_from(STATUSES)),
                "started_at": started,
                "ended_at": ended,
                "last_message_at": None,
            }
        )
        moment = started
        for j in range(draw(st.integers(0, 12))):
            step = draw(st.sampled_from(["tie", "seconds", "seconds", "minutes", "days", "anywhere"]))
            if step == "anywhere":
                moment = draw(anywhere)  # even before the conversation's start
            elif step != "tie":
                scale = {"seconds": 1, "minutes": 60, "days": 86_400}[step]
                moment = moment + dt.timedelta(seconds=scale * draw(st.integers(0, 90)), microseconds=draw(st.integers(0, 999_999)))
            messages.append(
                {
                    # ids whose byte order differs from a natural or locale order
                    "id": draw(st.sampled_from(["m", "M", "m-", "m_", "mb", "ma", "m0"])) + f"{i}.{j}",
                    "conversation_id": conversation_id,
                    "sender_type": draw(st.sampled_from(SENDERS)),
                    "sender_id": None,
                    "content": "hi",
                    "timestamp": moment,
                    "metadata": draw(META),
                }
            )
    # A message whose conversation does not exist belongs to no tenant.
    if draw(st.booleans()):
        messages.append(
            {"id": "orphan", "conversation_id": "nowhere", "sender_type": "customer", "sender_id": None,
             "content": "?", "timestamp": draw(near), "metadata": None}
        )
    return {"conversations": conversations, "messages": messages}


@st.composite
def cases(draw: st.DrawFn) -> Case:
    window = draw(st.sampled_from(WINDOWS))
    first = draw(st.integers(0, WINDOW_DAYS - 1))
    last = draw(st.integers(first, WINDOW_DAYS - 1))
    start, end = window + dt.timedelta(days=first), window + dt.timedelta(days=last)
    return Case(
        rows=draw(datasets(window, start, end)),
        start=start,
        end=end,
        tz=draw(st.sampled_from(TIMEZONES)),
        granularity=draw(st.sampled_from(["day", "week", "month"])),
        outlet_id=draw(st.sampled_from([None, None, None, OUTLETS[0]])),
    )


# -- §8: priced costs ------------------------------------------------------------------------

#: Numbers whose markets differ by prefix length (`1` vs `1242`), with and without '+', one with
#: a space (nothing but one leading '+' is removed), none matching (only '*'), and empty.
PHONES = ("+12425551234", "12425550000", "+15550001111", "+1 242 555", "+442071234567", "4420", "+919800000000", "+8613800000000", "++1242", "", "1")
TOKEN_VALUES = st.one_of(st.integers(-50, 5_000), st.sampled_from(["500", "-3", "1.5", "twelve", "", True, None, 2.5]))
PRICED_META = st.one_of(
    st.sampled_from([None, {}, [], '"just a string"']),
    st.fixed_dictionaries(
        {},
        optional={
            "pricing": st.one_of(
                st.fixed_dictionaries(
                    {"type": st.sampled_from(["regular", "regular", "free_customer_service", "free_entry_point", "Regular", 1])},
                    optional={"category": st.sampled_from(["marketing", "utility", "authentication", "service", "Marketing", 5, None])},
                ),
                st.sampled_from(["regular", ["regular"], None]),
            ),
            "model": st.sampled_from(["gpt-4o", "gpt-4o-mini", "claude", "GPT-4o", 5, None]),
            "input_tokens": TOKEN_VALUES,
            "output_tokens": TOKEN_VALUES,
            "tokens_used": TOKEN_VALUES,
        },
    ),
)


@st.composite
def price_tables(draw: st.DrawFn, start: dt.date, end: dt.date) -> Any:
    """Price tables with rows valid before, inside and after the range (a price change inside
    it), prefixes that nest, '*' now and then, and categories and models the rows miss."""
    from crm_metrics.prices import LLMPrice, PriceTables, WhatsAppPrice

    days = [dt.date(2024, 1, 1), start - dt.timedelta(days=1), start, start + dt.timedelta(days=(end - start).days // 2 + 1), end + dt.timedelta(days=1)]
    prices = st.sampled_from([0.0, 0.004, 0.0125, 0.0625, 1.5])
    whatsapp = {
        (prefix, category, valid_from): WhatsAppPrice(prefix, category, draw(prices), valid_from)
        for prefix, category, valid_from in draw(st.lists(
            st.tuples(st.sampled_from(["1", "1242", "44", "91", "*", "*"]), st.sampled_from(["marketing", "utility", "authentication", "service"]), st.sampled_from(days)),
            max_size=10,
        ))
    }
    llm = {
        (model, valid_from): LLMPrice(model, draw(prices), draw(prices), valid_from)
        for model, valid_from in draw(st.lists(st.tuples(st.sampled_from(["gpt-4o", "gpt-4o-mini", "*"]), st.sampled_from(days)), max_size=5))
    }
    return PriceTables(tuple(whatsapp.values()), tuple(llm.values()))


@dataclass(frozen=True)
class PricedCase:
    case: Case
    tables: Any


@st.composite
def priced_cases(draw: st.DrawFn) -> PricedCase:
    """A case of `cases` whose messages carry pricing objects, models and input/output tokens,
    its conversations numbers of several markets, with price tables to go with them."""
    case = draw(cases())
    rows = {
        "conversations": [{**c, "customer_phone": draw(st.sampled_from(PHONES))} for c in case.rows["conversations"]],
        "messages": [{**m, "metadata": draw(PRICED_META)} for m in case.rows["messages"]],
    }
    case = Case(rows, case.start, case.end, case.tz, case.granularity, case.outlet_id)
    return PricedCase(case, draw(price_tables(case.start, case.end)))
