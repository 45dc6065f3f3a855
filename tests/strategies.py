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
SENDERS = ("customer", "customer", "customer", "llm", "llm", "agent", "system", "bot")
META = st.one_of(
    st.none(),
    st.just({}),
    st.just([]),
    st.just('"just a string"'),
    st.just("123"),
    st.fixed_dictionaries(
        {},
        optional={
            "tokens_used": st.one_of(
                st.integers(-50, 5_000),
                st.sampled_from(["500", "-3", "+7", "1.5", "5e2", " 12", "twelve", "", "12345678901234567890", "٣"]),
                st.sampled_from([1.5, 500.0, True, None, [1]]),
            ),
            "handoff_requested": st.sampled_from([True, "true", False, "false", 1, "yes", "TRUE", None, {"x": 1}]),
            "trigger": st.sampled_from(["keyword", "confidence", "Keyword", "other", 3, None]),
        },
    ),
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
def instants(draw: st.DrawFn, window: dt.date, ties: list[dt.datetime]) -> dt.datetime:
    """An instant in the window (plus a day either side), often equal to an earlier one."""
    if ties and draw(st.integers(0, 4)) == 0:
        return draw(st.sampled_from(ties))
    base = dt.datetime.combine(window - dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC)
    seconds = draw(st.integers(0, (WINDOW_DAYS + 2) * 86_400 - 1))
    micros = draw(st.sampled_from([0, 0, 0, 1, 500_000, 999_999]))
    moment = base + dt.timedelta(seconds=seconds, microseconds=micros)
    ties.append(moment)
    return moment


@st.composite
def datasets(draw: st.DrawFn, window: dt.date) -> dict[str, list[dict[str, Any]]]:
    ties: list[dt.datetime] = []
    conversations, messages = [], []
    n_conversations = draw(st.integers(0, 10))
    for i in range(n_conversations):
        started = draw(instants(window, ties))
        ended = None
        if draw(st.booleans()):
            # Usually after the start; now and then before it (data is taken as it is).
            ended = started + dt.timedelta(seconds=draw(st.integers(-600, 6 * 3600)), microseconds=draw(st.integers(0, 999_999)))
        conversation_id = f"c{i}"
        conversations.append(
            {
                "id": conversation_id,
                "tenant_id": draw(st.sampled_from([TENANT, TENANT, TENANT, OTHER_TENANT])),
                "outlet_id": draw(st.sampled_from([None, *OUTLETS])),
                "customer_phone": f"+1555{i:07d}",
                "status": draw(st.sampled_from(STATUSES)),
                "started_at": started,
                "ended_at": ended,
                "last_message_at": None,
            }
        )
        for j in range(draw(st.integers(0, 8))):
            if draw(st.integers(0, 3)) == 0:
                moment = draw(instants(window, ties))  # anywhere, even before the start
            else:
                moment = started + dt.timedelta(seconds=draw(st.integers(0, 3 * 86_400)))
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
             "content": "?", "timestamp": draw(instants(window, ties)), "metadata": None}
        )
    return {"conversations": conversations, "messages": messages}


@st.composite
def cases(draw: st.DrawFn) -> Case:
    window = draw(st.sampled_from(WINDOWS))
    rows = draw(datasets(window))
    first = draw(st.integers(0, WINDOW_DAYS - 1))
    last = draw(st.integers(first, WINDOW_DAYS - 1))
    return Case(
        rows=rows,
        start=window + dt.timedelta(days=first),
        end=window + dt.timedelta(days=last),
        tz=draw(st.sampled_from(TIMEZONES)),
        granularity=draw(st.sampled_from(["day", "week", "month"])),
        outlet_id=draw(st.sampled_from([None, None, *OUTLETS])),
    )
