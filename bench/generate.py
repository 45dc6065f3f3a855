"""The scale data set: 1,000 tenants, one year, about 1M conversations and 10M messages.

    python -m bench.generate [--out bench/data] [--seed 42]

Tenant sizes follow Zipf's law with exponent 1 (the largest tenant holds about 13% of the
rows, the median one about 0.03%). Every conversation is a script like the demo's
(crm_metrics/demo.py), drawn with numpy for all conversations at once: the customer opens
(sometimes in two messages), the LLM answers seconds later, follow-up turns (now and then the
customer comes back hours later, or double-texts), and an ending: thanks (answered or not), an
automatic close by a `system` message, or a handoff by keyword or low confidence with a
`system` transfer message, a repeated request, and an agent answering minutes later. LLM
messages carry `tokens_used` (a few as text, a very few as a fraction, which counts 0); handoff
requests carry `handoff_requested` (a few as the string "true") and `trigger`. As the demo's,
LLM messages name their model with input and output tokens (summing to tokens_used), and the
business's messages carry Meta's pricing object (docs/costs.md): LLM and agent replies free
(customer service), system notices a charged utility template. Statuses are
active, resolved, handed_off and a few `closed`; conversations start in the tenant's local
day rhythm in one of nine timezones (two with half- or quarter-hour offsets, three with DST).
DuckDB SQL then turns the numbers into ids (uuid-shaped md5 of seed and number), text and JSON,
and writes Parquet sorted by time, the order a real export arrives in.

The small set is the same tenants' last 36.5 days (a tenth of the year): every conversation
that started in it, with all its messages. Conversations last at most about two days, so a
30-day window at the end of the year holds exactly the same rows in both sets, and the two
stores must give identical answers for it: the ratio of their latencies is the cost of the
store's size alone.

Everything is a function of the seed: the same seed gives byte-identical Parquet files.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

SEED = 42
TENANTS = 1_000
CONVERSATIONS = 1_000_000
ZIPF_EXPONENT = 1.0
FIRST_DAY = dt.date(2025, 1, 1)
DAYS = 365
LAST_DAY = FIRST_DAY + dt.timedelta(days=DAYS - 1)
#: The small set: conversations started in the last tenth of the year.
SMALL_SET_DAYS = DAYS / 10
TABLES = ("tenants", "conversations", "messages")
DATA_DIR = Path(__file__).parent / "data"

#: (IANA zone, share of tenants, phone country code).
TIMEZONES = (
    ("Asia/Jakarta", 0.30, "62"),
    ("Asia/Kolkata", 0.12, "91"),
    ("America/New_York", 0.12, "1"),
    ("Europe/London", 0.10, "44"),
    ("America/Sao_Paulo", 0.10, "55"),
    ("Africa/Lagos", 0.10, "234"),
    ("UTC", 0.08, "971"),
    ("Australia/Sydney", 0.06, "61"),
    ("Asia/Kathmandu", 0.02, "977"),
)
#: Relative weight of each local start hour, 00 to 23, and of each weekday, Monday first.
HOURS = (1, 0.5, 0.3, 0.2, 0.2, 0.5, 1.5, 3, 5, 7, 8, 8, 7.5, 7, 7, 7, 7.5, 8, 8, 7.5, 6, 4.5, 3, 2)
WEEKDAYS = (1.0, 0.97, 0.97, 1.0, 1.08, 1.15, 0.9)

# Turn kinds. A turn is: some customer messages, then at most one reply (llm or agent), then
# at most one system message.
OPEN, FOLLOW, THANKS_ANSWERED, THANKS_UNANSWERED, AUTO_CLOSE, HANDOFF, REPEAT, AGENT_FIRST, AGENT_FOLLOW = range(9)
CUSTOMER, LLM, AGENT, SYSTEM = range(4)
SENDERS = ("customer", "llm", "agent", "system")
# Metadata kinds (rendered as JSON text in SQL, below).
(
    NO_METADATA,
    EMPTY,
    TOKENS,
    TOKENS_TEXT,
    TOKENS_FRACTION,
    KEYWORD,
    KEYWORD_TEXT_TRUE,
    CONFIDENCE,
    TRANSFER,
    CLOSE_EVENT,
) = range(10)
STATUSES = ("active", "resolved", "handed_off", "closed")

CONTENT = {
    CUSTOMER: (
        "Hi! Is the Galaxy A55 still in stock?",
        "Hello, can I book a table for four tonight?",
        "Do you deliver to my area?",
        "What time do you close today?",
        "Where is my order? It was supposed to arrive yesterday.",
        "Can I pay in instalments?",
        "How much is the large one?",
        "Thanks!",
        "ok",
        "I want to talk to a human, please",
        "Hello?? Still waiting for an agent",
        "Here is my order number: 48213",
    ),
    LLM: (
        "Yes, it is in stock in black and lilac.",
        "Sure! We have a table at 19:30. Shall I book it?",
        "We deliver within 10 km of every store.",
        "We are open 10:00 to 22:00 every day.",
        "Your parcel is with the courier and should arrive today.",
        "Of course, I'm connecting you with one of our team now.",
        "I'm not completely sure about that, so let me bring in a colleague.",
        "You're welcome! Anything else I can help you with?",
    ),
    AGENT: (
        "Hi, this is Putri. Let me look into this for you.",
        "Thanks, checking now.",
        "I've sorted it out for you.",
        "It's done, you'll get a confirmation shortly.",
        "I've passed this to the store manager.",
    ),
    SYSTEM: ("Conversation transferred to the agent queue", "Conversation closed after 10 minutes of inactivity"),
}


@dataclass(frozen=True)
class DataSet:
    """Parquet files of one set: `path(table)`."""

    name: str
    directory: Path

    def path(self, table: str) -> Path:
        return self.directory / f"{table}.parquet"

    def exists(self) -> bool:
        return all(self.path(table).is_file() for table in TABLES)


def tenant_id(rank: int, seed: int = SEED) -> str:
    """The id of the tenant of a size rank (1 = the largest), as the SQL below writes it."""
    return str(uuid.UUID(hashlib.md5(f"{seed}:tenant:{rank}".encode()).hexdigest()))


def fingerprint(seed: int) -> str:
    """Changes when the generator's code or seed does: cached data is then written anew."""
    source = Path(__file__).read_bytes()
    return hashlib.sha256(source + str(seed).encode()).hexdigest()[:16]


def datasets(root: Path = DATA_DIR, seed: int = SEED) -> tuple[DataSet, DataSet]:
    """The full set and the small set, generated first if missing or stale."""
    directory = root / f"seed{seed}-{fingerprint(seed)}"
    full, small = DataSet("full", directory / "full"), DataSet("small", directory / "small")
    return full, small


def ensure(root: Path = DATA_DIR, seed: int = SEED, progress: Callable[[str], None] = print) -> tuple[DataSet, DataSet]:
    full, small = datasets(root, seed)
    if full.exists() and small.exists():
        progress(f"data: cached in {full.directory.parent}")
        return full, small
    for stale in root.glob("seed*"):  # other seeds or generator versions
        if stale != full.directory.parent:
            shutil.rmtree(stale)
    write(full, small, seed, progress)
    return full, small


# -- numbers ------------------------------------------------------------------------------


def tenant_sizes(total: int = CONVERSATIONS, tenants: int = TENANTS, exponent: float = ZIPF_EXPONENT) -> np.ndarray:
    """Conversations per tenant, by rank (largest first)."""
    weights = 1.0 / np.arange(1, tenants + 1) ** exponent
    return np.maximum(1, np.round(total * weights / weights.sum())).astype(np.int64)


def _starts(rng: np.random.Generator, zones: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start instants (UTC microseconds) and local hours of conversations, given their tenants'
    zones: a weekday rhythm over the year's local days, a day rhythm over local hours."""
    n = len(zones)
    weekday_of_day = (FIRST_DAY.weekday() + np.arange(DAYS)) % 7
    day_weights = np.asarray(WEEKDAYS)[weekday_of_day]
    day = rng.choice(DAYS, n, p=day_weights / day_weights.sum())
    hour = rng.choice(24, n, p=np.asarray(HOURS) / sum(HOURS))
    local = (
        np.datetime64(FIRST_DAY.isoformat(), "us")
        + day.astype("timedelta64[D]")
        + hour.astype("timedelta64[h]")
        + (rng.random(n) * 3_600_000_000).astype("timedelta64[us]")
    )
    utc = np.empty(n, dtype=np.int64)
    for zone_index, (zone, _, _) in enumerate(TIMEZONES):
        mask = zones == zone_index
        stamps = pd.DatetimeIndex(local[mask]).tz_localize(
            zone, ambiguous=np.zeros(int(mask.sum()), dtype=bool), nonexistent="shift_forward"
        )
        utc[mask] = stamps.as_unit("us").asi8
    return utc, hour


def _pick(rng: np.random.Generator, n: int, values: tuple[float, ...], weights: tuple[float, ...]) -> np.ndarray:
    return rng.choice(np.asarray(values), n, p=np.asarray(weights) / sum(weights))


def _uniform(rng: np.random.Generator, n: int, low: float, high: float) -> np.ndarray:
    return low + rng.random(n) * (high - low)


def numbers(seed: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Tenants, conversations and messages as numpy columns (codes, not text)."""
    rng = np.random.default_rng(seed)
    sizes = tenant_sizes()
    zone_shares = np.asarray([share for _, share, _ in TIMEZONES])
    tenants = {
        "rank": np.arange(1, TENANTS + 1),
        "zone": rng.choice(len(TIMEZONES), TENANTS, p=zone_shares / zone_shares.sum()),
        "outlets": np.clip(np.round(sizes**0.4 / 3), 1, 40).astype(np.int64),
        "agents": np.clip(np.round(sizes**0.3), 1, 30).astype(np.int64),
        "keyword_rate": _uniform(rng, TENANTS, 0.04, 0.10),
        "confidence_rate": _uniform(rng, TENANTS, 0.03, 0.07),
    }

    # Conversations: who, when, and which script.
    tenant = np.repeat(np.arange(TENANTS), sizes)
    n = len(tenant)
    zone = tenants["zone"][tenant]
    started, local_hour = _starts(rng, zone)
    follow_ups = np.minimum(rng.poisson(2.6, n), 12)
    roll = rng.random(n)
    keyword = roll < tenants["keyword_rate"][tenant]
    handoff = roll < tenants["keyword_rate"][tenant] + tenants["confidence_rate"][tenant]
    trigger = np.where(keyword, KEYWORD, CONFIDENCE)
    open_double = rng.random(n) < 0.35
    ending = rng.random(n)
    thanks_answered = ~handoff & (ending < 0.45)
    thanks_unanswered = ~handoff & (ending >= 0.45) & (ending < 0.60)
    auto_close = ~handoff & (rng.random(n) < 0.12)
    repeat = handoff & (rng.random(n) < 0.25)
    agent_joins = handoff & (rng.random(n) >= 0.08)
    agent_turns = np.where(agent_joins, 1 + _pick(rng, n, (1, 2, 3, 4), (35, 35, 20, 10)).astype(np.int64), 0)
    # Turns: OPEN, FOLLOW × follow_ups, then the ending's turns in order.
    ending_turns = np.where(
        handoff,
        1 + repeat + agent_turns,
        (thanks_answered | thanks_unanswered).astype(np.int64) + auto_close,
    )
    turns_per = 1 + follow_ups + ending_turns

    conv = np.repeat(np.arange(n), turns_per)
    first_turn = np.cumsum(turns_per) - turns_per
    position = np.arange(len(conv)) - first_turn[conv]
    after = position - 1 - follow_ups[conv]  # position within the ending
    h, rep = handoff[conv], repeat[conv]
    thanks = np.where(thanks_answered[conv], THANKS_ANSWERED, THANKS_UNANSWERED)
    has_thanks = (thanks_answered | thanks_unanswered)[conv]
    kind = np.select(
        [
            position == 0,
            after < 0,
            h & (after == 0),
            h & rep & (after == 1),
            h & (after == 1 + rep),
            h,
            has_thanks & (after == 0),
        ],
        [OPEN, FOLLOW, HANDOFF, REPEAT, AGENT_FIRST, AGENT_FOLLOW, thanks],
        default=AUTO_CLOSE,
    )
    turns = len(kind)
    customers = np.select(
        [kind == OPEN, kind == FOLLOW, np.isin(kind, (AUTO_CLOSE, AGENT_FIRST))],
        [1 + open_double[conv], 1 + (rng.random(turns) < 0.12), 0],
        default=1,
    )
    reply = np.select(
        [np.isin(kind, (OPEN, FOLLOW, THANKS_ANSWERED, HANDOFF, REPEAT)), np.isin(kind, (AGENT_FIRST, AGENT_FOLLOW))],
        [LLM, AGENT],
        default=-1,
    )
    system = np.isin(kind, (HANDOFF, AUTO_CLOSE)).astype(np.int64)
    per_turn = customers + (reply >= 0) + system

    # Messages: expand the turns; a message's role follows from its place in its turn.
    turn = np.repeat(np.arange(turns), per_turn)
    m = len(turn)
    place = np.arange(m) - (np.cumsum(per_turn) - per_turn)[turn]
    kind_m, customers_m = kind[turn], customers[turn]
    sender = np.where(place < customers_m, CUSTOMER, np.where((place == customers_m) & (reply[turn] >= 0), reply[turn], SYSTEM))
    # Seconds since the previous message of the conversation.
    gap = np.zeros(m)
    first_customer = (sender == CUSTOMER) & (place == 0)
    extra_customer = (sender == CUSTOMER) & (place > 0)
    for turn_kind, (low, high) in {
        FOLLOW: (15, 240),
        THANKS_ANSWERED: (5, 90),
        THANKS_UNANSWERED: (5, 90),
        HANDOFF: (15, 240),
        REPEAT: (120, 420),
        AGENT_FOLLOW: (20, 240),
    }.items():
        mask = first_customer & (kind_m == turn_kind)
        gap[mask] = _uniform(rng, int(mask.sum()), low, high)
    # Now and then the customer comes back hours later.
    back_later = first_customer & (kind_m == FOLLOW) & (rng.random(m) < 0.03)
    gap[back_later] = _uniform(rng, int(back_later.sum()), 2 * 3600, 20 * 3600)
    mask = extra_customer & (kind_m == OPEN)
    gap[mask] = _uniform(rng, int(mask.sum()), 3, 25)
    mask = extra_customer & (kind_m == FOLLOW)
    gap[mask] = np.where(rng.random(int(mask.sum())) < 0.02, 0.0, _uniform(rng, int(mask.sum()), 2, 30))
    mask = sender == LLM
    gap[mask] = np.where(
        rng.random(int(mask.sum())) < 0.005, 0.0, np.clip(rng.lognormal(np.log(7), 0.6, int(mask.sum())), 2, 60)
    )
    mask = (sender == AGENT) & (kind_m == AGENT_FIRST)
    gap[mask] = np.clip(rng.lognormal(np.log(300), 0.6, int(mask.sum())), 30, 1500)
    mask = (sender == AGENT) & (kind_m == AGENT_FOLLOW)
    gap[mask] = np.clip(rng.lognormal(np.log(90), 0.6, int(mask.sum())), 10, 480)
    gap[(sender == SYSTEM) & (kind_m == HANDOFF)] = 1
    gap[(sender == SYSTEM) & (kind_m == AUTO_CLOSE)] = 600

    conv_m = conv[turn]
    elapsed = np.cumsum(np.round(gap * 1e6).astype(np.int64))
    first_message = np.cumsum(np.bincount(conv_m, minlength=n)) - np.bincount(conv_m, minlength=n)
    elapsed -= elapsed[first_message][conv_m]
    timestamp = started[conv_m] + elapsed

    tokens = np.round(rng.triangular(150, 380, 1200, m)).astype(np.int64)
    variant = rng.random(m)
    metadata = np.select(
        [
            (sender == LLM) & ((kind_m == REPEAT) | ((kind_m == HANDOFF) & keyword[conv_m])) & (variant < 0.1),
            (sender == LLM) & (kind_m == HANDOFF),
            (sender == LLM) & (kind_m == REPEAT),
            (sender == LLM) & (variant < 0.02),
            (sender == LLM) & (variant < 0.021),
            sender == LLM,
            (sender == SYSTEM) & (kind_m == HANDOFF),
            sender == SYSTEM,
            (sender == CUSTOMER) & (variant < 0.03),
        ],
        [
            KEYWORD_TEXT_TRUE,
            trigger[conv_m],
            KEYWORD,
            TOKENS_TEXT,
            TOKENS_FRACTION,
            TOKENS,
            TRANSFER,
            CLOSE_EVENT,
            EMPTY,
        ],
        default=NO_METADATA,
    )
    content = np.select(
        [
            (sender == CUSTOMER) & (kind_m == HANDOFF) & keyword[conv_m],
            (sender == CUSTOMER) & (kind_m == REPEAT),
            (sender == CUSTOMER) & np.isin(kind_m, (THANKS_ANSWERED, THANKS_UNANSWERED)),
            sender == CUSTOMER,
            (sender == LLM) & (kind_m == HANDOFF) & keyword[conv_m],
            (sender == LLM) & (kind_m == HANDOFF),
            (sender == LLM) & (kind_m == THANKS_ANSWERED),
            sender == LLM,
            (sender == AGENT) & (kind_m == AGENT_FIRST),
            sender == AGENT,
            (sender == SYSTEM) & (kind_m == HANDOFF),
        ],
        [9, 10, 7, rng.integers(0, 7, m), 5, 6, 7, rng.integers(0, 5, m), 0, rng.integers(1, 5, m), 0],
        default=1,
    )

    # Conversation outcome, from its own script.
    message_counts = np.bincount(conv_m, minlength=n)
    last_message = timestamp[first_message + message_counts - 1]
    quiet = rng.random(n) < np.where(local_hour >= 19, 0.18, 0.07)
    status = np.select(
        [handoff & ~agent_joins, handoff & (rng.random(n) < 0.3), handoff, quiet, rng.random(n) < 0.03],
        [0, 1, 2, 0, 3],
        default=1,
    )
    ended = np.where(status == 0, -1, last_message + np.round(_uniform(rng, n, 5, 240) * 1e6).astype(np.int64))
    outlet = np.where(rng.random(n) < 0.04, -1, np.floor(rng.random(n) * tenants["outlets"][tenant]).astype(np.int64))

    conversations = {
        "number": np.arange(n),
        "tenant": tenant,
        "outlet": outlet,
        "phone": rng.integers(10**8, 10**10, n),
        "status": status,
        "started": started,
        "ended": ended,
        "last_message": last_message,
    }
    messages = {
        "number": np.arange(m),
        "conversation": conv_m,
        "sender": sender,
        "agent": np.floor(rng.random(m) * tenants["agents"][tenant[conv_m]]).astype(np.int64),
        "content": content,
        "timestamp": timestamp,
        "metadata": metadata,
        "tokens": tokens,
    }
    return tenants, conversations, messages


# -- text and files -------------------------------------------------------------------------


def _sql_list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join("'" + value.replace("'", "''") + "'" for value in values) + "]"


def write(full: DataSet, small: DataSet, seed: int = SEED, progress: Callable[[str], None] = print) -> None:
    started = time.perf_counter()
    progress(f"data: generating {CONVERSATIONS:,} conversations for {TENANTS:,} tenants (seed {seed}) ...")
    tenants, conversations, messages = numbers(seed)
    progress(
        f"data: {len(conversations['number']):,} conversations, {len(messages['number']):,} messages drawn "
        f"in {time.perf_counter() - started:.1f} s; writing Parquet ..."
    )
    target = full.directory.parent
    staging = target.with_name(target.name + ".partial")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'")
    db.execute(f"SET temp_directory = '{staging / 'tmp'}'")
    zones = pa.table({"zone": list(range(len(TIMEZONES))), "name": [z for z, _, _ in TIMEZONES], "cc": [c for _, _, c in TIMEZONES]})
    db.register("zones", zones)
    db.register("tenant_numbers", pa.table(tenants))
    db.register("conversation_numbers", pa.table(conversations))
    db.register("message_numbers", pa.table(messages))
    # Ids: the md5 of (seed, kind, number) in UUID form, so every run names rows alike.
    db.execute(f"CREATE MACRO uid(kind, number) AS CAST(CAST(md5('{seed}:' || kind || ':' || number) AS UUID) AS VARCHAR)")
    out = {table: staging / "full" / f"{table}.parquet" for table in TABLES}
    out["tenants"].parent.mkdir()
    options = "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)"
    db.execute(
        f"""
        COPY (
          SELECT uid('tenant', t.rank) AS id,
                 'Tenant ' || format('{{:04d}}', t.rank) || ' (' || z.name || ')' AS name,
                 z.name AS timezone
          FROM tenant_numbers AS t JOIN zones AS z USING (zone)
          ORDER BY id
        ) TO '{out["tenants"]}' {options}
        """
    )
    db.execute(
        f"""
        COPY (
          SELECT uid('conversation', c.number) AS id,
                 uid('tenant', t.rank) AS tenant_id,
                 CASE WHEN c.outlet >= 0 THEN uid('outlet:' || t.rank, c.outlet) END AS outlet_id,
                 '+' || z.cc || CAST(c.phone AS VARCHAR) AS customer_phone,
                 {_sql_list(STATUSES)}[c.status + 1] AS status,
                 make_timestamp(c.started)::TIMESTAMPTZ AS started_at,
                 CASE WHEN c.ended >= 0 THEN make_timestamp(c.ended)::TIMESTAMPTZ END AS ended_at,
                 make_timestamp(c.last_message)::TIMESTAMPTZ AS last_message_at
          FROM conversation_numbers AS c
          JOIN tenant_numbers AS t ON t.rank = c.tenant + 1
          JOIN zones AS z ON z.zone = t.zone
          ORDER BY started_at, id
        ) TO '{out["conversations"]}' {options}
        """
    )
    tokens = "CAST(m.tokens AS VARCHAR)"
    # What a CRM writes (docs/costs.md, as the demo does): the model, the prompt and the reply's
    # tokens apart (their sum is tokens_used), and Meta's pricing object on the business's
    # messages: replies inside the customer service window free, system notices (transfer,
    # auto-close) utility templates, charged.
    free = '"pricing": {"type": "free_customer_service", "category": "service"}'
    charged = '"pricing": {"type": "regular", "category": "utility"}'
    llm = (
        "', \"model\": \"gpt-4o-mini\", \"input_tokens\": ' || CAST(m.tokens - m.tokens // 5 AS VARCHAR)"
        f" || ', \"output_tokens\": ' || CAST(m.tokens // 5 AS VARCHAR) || ', {free}'"
    )
    db.execute(
        f"""
        COPY (
          SELECT uid('message', m.number) AS id,
                 uid('conversation', m.conversation) AS conversation_id,
                 {_sql_list(SENDERS)}[m.sender + 1] AS sender_type,
                 CASE m.sender
                   WHEN {CUSTOMER} THEN '+' || z.cc || CAST(c.phone AS VARCHAR)
                   WHEN {LLM} THEN 'assistant-gpt-4o-mini'
                   WHEN {AGENT} THEN uid('agent:' || t.rank, m.agent)
                 END AS sender_id,
                 CASE m.sender
                   WHEN {CUSTOMER} THEN {_sql_list(CONTENT[CUSTOMER])}[m.content + 1]
                   WHEN {LLM} THEN {_sql_list(CONTENT[LLM])}[m.content + 1]
                   WHEN {AGENT} THEN {_sql_list(CONTENT[AGENT])}[m.content + 1]
                   ELSE {_sql_list(CONTENT[SYSTEM])}[m.content + 1]
                 END AS content,
                 make_timestamp(m.timestamp)::TIMESTAMPTZ AS "timestamp",
                 CASE m.metadata
                   WHEN {EMPTY} THEN '{{}}'
                   WHEN {TOKENS} THEN '{{"tokens_used": ' || {tokens} || {llm} || '}}'
                   WHEN {TOKENS_TEXT} THEN '{{"tokens_used": "' || {tokens} || '"' || {llm} || '}}'
                   WHEN {TOKENS_FRACTION} THEN '{{"tokens_used": ' || {tokens} || '.5' || {llm} || '}}'
                   WHEN {KEYWORD} THEN '{{"tokens_used": ' || {tokens} || {llm} || ', "handoff_requested": true, "trigger": "keyword"}}'
                   WHEN {KEYWORD_TEXT_TRUE} THEN '{{"tokens_used": ' || {tokens} || {llm} || ', "handoff_requested": "true", "trigger": "keyword"}}'
                   WHEN {CONFIDENCE} THEN '{{"tokens_used": ' || {tokens} || {llm} || ', "handoff_requested": true, "trigger": "confidence", "confidence": 0.' || CAST(12 + m.tokens % 34 AS VARCHAR) || '}}'
                   WHEN {TRANSFER} THEN '{{"event": "transfer", {charged}}}'
                   WHEN {CLOSE_EVENT} THEN '{{"event": "auto_close", {charged}}}'
                   ELSE CASE WHEN m.sender = {AGENT} THEN '{{{free}}}' END
                 END AS metadata
          FROM message_numbers AS m
          JOIN conversation_numbers AS c ON c.number = m.conversation
          JOIN tenant_numbers AS t ON t.rank = c.tenant + 1
          JOIN zones AS z ON z.zone = t.zone
          ORDER BY "timestamp", id
        ) TO '{out["messages"]}' {options}
        """
    )
    progress(f"data: full set written in {time.perf_counter() - started:.1f} s; cutting the small set ...")
    # The small set: conversations started in the year's last tenth, with all their messages.
    cutoff = dt.datetime.combine(LAST_DAY + dt.timedelta(days=1), dt.time(), dt.UTC) - dt.timedelta(days=SMALL_SET_DAYS)
    small_out = staging / "small"
    small_out.mkdir()
    db.execute(f"COPY (SELECT * FROM '{out['tenants']}') TO '{small_out / 'tenants.parquet'}' {options}")
    db.execute(
        f"COPY (SELECT * FROM '{out['conversations']}' WHERE started_at >= $cutoff) TO '{small_out / 'conversations.parquet'}' {options}",
        {"cutoff": cutoff},
    )
    db.execute(
        f"""COPY (
              SELECT m.* FROM '{out['messages']}' AS m
              WHERE m.conversation_id IN (SELECT id FROM '{out['conversations']}' WHERE started_at >= $cutoff)
              ORDER BY m."timestamp", m.id
            ) TO '{small_out / 'messages.parquet'}' {options}""",
        {"cutoff": cutoff},
    )
    counts = {
        name: {table: db.execute(f"SELECT count(*) FROM '{staging / name / (table + '.parquet')}'").fetchone()[0] for table in TABLES}
        for name in ("full", "small")
    }
    db.close()
    shutil.rmtree(staging / "tmp", ignore_errors=True)
    manifest = {
        "seed": seed,
        "fingerprint": fingerprint(seed),
        "first_day": FIRST_DAY.isoformat(),
        "last_day": LAST_DAY.isoformat(),
        "small_set_cutoff": cutoff.isoformat(),
        "rows": counts,
        "seconds": round(time.perf_counter() - started, 1),
    }
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    progress(f"data: written in {manifest['seconds']} s: {counts}")


def manifest(dataset: DataSet) -> dict[str, object]:
    return json.loads((dataset.directory.parent / "manifest.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    ensure(args.out, args.seed)


if __name__ == "__main__":
    main()
