from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections import Counter, defaultdict
from collections.abc import Iterator

import pytest

from crm_metrics import InvalidParameter, Metrics, demo

TODAY = dt.date(2025, 11, 4)
# Midday in New York on the day after TODAY: every tenant's TODAY is over.
NOW = dt.datetime(2025, 11, 5, 17, 0, tzinfo=dt.UTC)
DAYS = 31


def rows(today: dt.date = TODAY, days: int = 3, now: dt.datetime = NOW) -> tuple[list[dict], list[dict]]:
    conversations: list[dict] = []
    messages: list[dict] = []
    for data in demo.generate(today, days, now=now):
        conversations += data.conversations
        messages += data.messages
    return conversations, messages


def by_day(conversations: list[dict], messages: list[dict]) -> dict[tuple[str, dt.date], tuple[list[dict], list[dict]]]:
    """Rows per (tenant, local start day of the conversation)."""
    zones = {t.id: zoneinfo.ZoneInfo(t.timezone) for t in demo.TENANTS}
    days: dict[tuple[str, dt.date], tuple[list[dict], list[dict]]] = defaultdict(lambda: ([], []))
    key_of = {}
    for c in conversations:
        key_of[c["id"]] = key = (c["tenant_id"], c["started_at"].astimezone(zones[c["tenant_id"]]).date())
        days[key][0].append(c)
    for m in messages:
        days[key_of[m["conversation_id"]]][1].append(m)
    return dict(days)


def table(metrics: Metrics, name: str) -> list[tuple]:
    """The stored rows, read straight from the DuckDB executor's connection."""
    cursor = metrics.executor._cursor()  # type: ignore[attr-defined]
    return cursor.execute(f"SELECT * FROM {name} ORDER BY id").fetchall()


@pytest.fixture(scope="module")
def month() -> tuple[list[dict], list[dict]]:
    return rows(days=DAYS)


@pytest.fixture(scope="module")
def metrics() -> Iterator[Metrics]:
    with Metrics.connect("duckdb:///:memory:", clock=lambda: NOW) as metrics:
        demo.write(metrics, today=TODAY, days=DAYS)
        yield metrics


def test_tenants() -> None:
    first = demo.TENANTS[0]
    assert (first.id, first.name) == ("00000000-0000-0000-0000-000000000001", "Acme Corp")
    assert len({t.id for t in demo.TENANTS}) == len(demo.TENANTS) >= 4
    assert len({t.timezone for t in demo.TENANTS}) >= 4
    assert all(t.timezone in zoneinfo.available_timezones() for t in demo.TENANTS)
    assert len({t.daily_conversations for t in demo.TENANTS}) > 1
    for tenant in demo.TENANTS:
        assert 2 <= len(tenant.outlets) <= 4
        assert all(re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", o) for o in tenant.outlets)
    outlets = [o for t in demo.TENANTS for o in t.outlets]
    assert len(set(outlets)) == len(outlets)


def test_generation_is_deterministic() -> None:
    assert rows() == rows()


def test_a_later_run_repeats_the_overlapping_days_exactly() -> None:
    today = by_day(*rows(TODAY, days=3))
    tomorrow = by_day(*rows(TODAY + dt.timedelta(days=1), days=3, now=NOW + dt.timedelta(days=1)))
    shared = today.keys() & tomorrow.keys()
    assert {day for _, day in shared} == {TODAY - dt.timedelta(days=1), TODAY}
    assert len(shared) == 2 * len(demo.TENANTS)
    assert all(today[key] == tomorrow[key] for key in shared)


def test_rerunning_write_adds_new_days_and_changes_nothing_else() -> None:
    tenant = demo.TENANTS[1].id
    clock = [NOW]
    with Metrics.connect("duckdb:///:memory:", clock=lambda: clock[0]) as metrics:
        demo.write(metrics, today=TODAY, days=2)
        before = {name: table(metrics, name) for name in ("tenants", "conversations", "messages")}
        summary = metrics.summary(tenant, TODAY - dt.timedelta(days=1), TODAY).to_dict()
        demo.write(metrics, today=TODAY, days=2)
        assert {name: table(metrics, name) for name in before} == before

        clock[0] += dt.timedelta(days=1)
        counts = demo.write(metrics, today=TODAY + dt.timedelta(days=1), days=3)
        assert metrics.summary(tenant, TODAY - dt.timedelta(days=1), TODAY).to_dict() == pytest.approx(summary)
        # The later run covers both days of the first one: no duplicates, nothing left over.
        for name in ("conversations", "messages"):
            assert len({row[0] for row in table(metrics, name)}) == len(table(metrics, name)) == counts[name]
            assert set(before[name]) < set(table(metrics, name))


def test_nothing_after_now() -> None:
    now = dt.datetime(2025, 11, 4, 12, 0, tzinfo=dt.UTC)
    conversations, messages = rows(days=2, now=now)
    full_conversations, full_messages = rows(days=2)
    assert 0 < len(conversations) < len(full_conversations)
    assert all(c in full_conversations for c in conversations)
    assert all(m in full_messages for m in messages)
    assert max(m["timestamp"] for m in messages) <= now
    assert max(c["ended_at"] or c["last_message_at"] for c in conversations) <= now


def test_messages_fall_on_their_conversations_local_day(month: tuple[list[dict], list[dict]]) -> None:
    days = by_day(*month)
    assert days.keys() == {(t.id, TODAY - dt.timedelta(days=n)) for t in demo.TENANTS for n in range(DAYS)}
    zones = {t.id: zoneinfo.ZoneInfo(t.timezone) for t in demo.TENANTS}
    for (tenant, day), (_, messages) in days.items():
        assert {m["timestamp"].astimezone(zones[tenant]).date() for m in messages} == {day}


def test_conversations_are_consistent(month: tuple[list[dict], list[dict]]) -> None:
    conversations, messages = month
    by_conversation = defaultdict(list)
    for message in messages:
        by_conversation[message["conversation_id"]].append(message)
    assert len({c["id"] for c in conversations}) == len(conversations) == len(by_conversation)
    assert len({m["id"] for m in messages}) == len(messages)
    assert Counter(c["status"] for c in conversations).keys() == {"active", "resolved", "handed_off"}
    for conversation in conversations:
        timeline = by_conversation[conversation["id"]]
        assert [m["timestamp"] for m in timeline] == sorted({m["timestamp"] for m in timeline})
        assert timeline[0]["timestamp"] == conversation["started_at"]
        assert conversation["last_message_at"] == timeline[-1]["timestamp"]
        if conversation["status"] == "active":
            assert conversation["ended_at"] is None
        else:
            assert conversation["ended_at"] > conversation["last_message_at"]
    for tenant in demo.TENANTS:
        outlets = {c["outlet_id"] for c in conversations if c["tenant_id"] == tenant.id}
        assert outlets == {*tenant.outlets, None}
        phones = {c["customer_phone"] for c in conversations if c["tenant_id"] == tenant.id}
        assert all(re.fullmatch(r"\+[1-9][0-9]{9,13}", p) for p in phones)
    assert {c["customer_phone"][:3] for c in conversations} >= {"+62", "+15"}


def test_replies_handoffs_and_tokens(month: tuple[list[dict], list[dict]]) -> None:
    _, messages = month
    by_conversation = defaultdict(list)
    for message in messages:
        by_conversation[message["conversation_id"]].append(message)
    llm_delays: list[float] = []
    agent_delays: list[float] = []
    triggers: Counter[str] = Counter()
    repeated = 0
    for timeline in by_conversation.values():
        handoffs = [m for m in timeline if (m["metadata"] or {}).get("handoff_requested") is True]
        triggers.update(m["metadata"]["trigger"] for m in handoffs[:1])
        repeated += len(handoffs) > 1
        for previous, message in zip(timeline, timeline[1:]):
            delay = (message["timestamp"] - previous["timestamp"]).total_seconds()
            if previous["sender_type"] == "customer" and message["sender_type"] == "llm":
                llm_delays.append(delay)
            if message["sender_type"] == "agent" and previous["sender_type"] != "agent":
                agent_delays.append(delay)
    assert 2 <= min(llm_delays) and max(llm_delays) <= 60
    assert sorted(agent_delays)[len(agent_delays) // 2] > 60  # agents take minutes
    assert triggers["keyword"] > 0 and triggers["confidence"] > 0
    assert repeated > 0
    keyword_asks = [
        previous["content"]
        for timeline in by_conversation.values()
        for previous, message in zip(timeline, timeline[1:])
        if (message["metadata"] or {}).get("trigger") == "keyword" and previous["sender_type"] == "customer"
    ]
    assert all(re.search(r"human|agent", text, re.IGNORECASE) for text in keyword_asks)
    tokens = [m["metadata"]["tokens_used"] for m in messages if m["sender_type"] == "llm"]
    assert all(isinstance(t, int) and 150 <= t <= 1200 for t in tokens)
    assert Counter(m["sender_type"] for m in messages).keys() == {"customer", "llm", "agent", "system"}
    assert 4 < len(messages) / len(by_conversation) < 15  # multi-turn


def test_dashboard_is_dense_and_agrees_with_the_summary(metrics: Metrics) -> None:
    start = TODAY - dt.timedelta(days=DAYS - 1)
    for tenant in demo.TENANTS:
        dashboard = metrics.dashboard(tenant.id, start, TODAY)
        summary = metrics.summary(tenant.id, start, TODAY)
        assert (dashboard.timezone, summary.tenant_name) == (tenant.timezone, tenant.name)
        assert len(dashboard.conversations) == DAYS
        assert all(day.total_conversations > 0 for day in dashboard.conversations)
        assert all(day.total_messages > 0 and day.llm_messages > 0 for day in dashboard.messages)
        assert sum(day.total_conversations for day in dashboard.conversations) == summary.total_conversations
        assert sum(day.total_messages for day in dashboard.messages) == summary.total_messages
        assert sum(day.agent_messages for day in dashboard.messages) > 0
        assert sum(day.keyword_triggered for day in dashboard.handoffs) > 0
        assert sum(day.confidence_triggered for day in dashboard.handoffs) > 0
        assert 2 < (summary.average_response_time_seconds or 0) < 60
        assert 0.5 < (summary.resolution_rate or 0) < 1 and 0 < (summary.handoff_rate or 0) < 0.5
    volumes = {metrics.summary(t.id, start, TODAY).total_conversations for t in demo.TENANTS}
    assert len(volumes) == len(demo.TENANTS)


def test_write_reports_progress_and_counts() -> None:
    messages: list[str] = []
    with Metrics.connect("duckdb:///:memory:", clock=lambda: NOW) as metrics:
        counts = demo.write(metrics, today=TODAY, days=1, progress=messages.append)
        assert counts == {name: len(table(metrics, name)) for name in ("tenants", "conversations", "messages")}
    assert counts["tenants"] == len(demo.TENANTS)
    assert [m.split(":")[0] for m in messages] == [t.name for t in demo.TENANTS]
    assert all(re.fullmatch(r"[^:]+: [0-9,]+ conversations, [0-9,]+ messages", m) for m in messages)


@pytest.mark.parametrize("days", [0, -1, 1.5, True])
def test_days_must_be_a_positive_whole_number(days: object) -> None:
    with Metrics.connect("duckdb:///:memory:") as metrics:
        with pytest.raises(InvalidParameter, match="^days: "):
            demo.write(metrics, today=TODAY, days=days)  # type: ignore[arg-type]
        assert not metrics.executor.has_table("tenants")
