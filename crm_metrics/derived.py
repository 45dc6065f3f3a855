"""The derived tables (the embedded store's; PostgreSQL's after `init-db --rollup`), and how a
load keeps them exact.

`conversation_facts` and `message_facts` (sql/derived/conversation_facts.sql, message_facts.sql)
hold each conversation's and message's derived columns: tenant, typed metadata, turn starts
and first replies, first handoff. `metric_slots` (sql/derived/metric_slots.sql) is the rollup: the
contract's counts and sums per tenant (and outlet) and 15-minute UTC slot; `cost_slots`
(sql/derived/cost_slots.sql) is its priced costs' part: counts and token sums per slot and
price group, in units no price table enters.

The rule for late and changed rows: a load lists every conversation its rows touch (before
and after the change: a message may move), recomputes those conversations' facts, then
recomputes every rollup slot that those conversations fed before or feed after, from the
facts of all conversations in those slots (read slot by slot, not over the tenant's history).
On PostgreSQL only the rollup rows whose values changed are rewritten. All of it runs in the load's own transaction, so an answer never
sees the base tables and the derived ones disagree.

Event batches (`events`) do less: a batch lists the old and new timestamps of the messages it
writes or deletes, and each touched conversation's message facts are recomputed only from the
first one that may change (sql/derived/suffix_starts.sql: the conversation's last llm or agent
message before the earliest changed timestamp; whole where the batch writes the conversation
itself), its conversation_facts row corrected from the stored one. The rollup changes by
difference: what the recomputed rows add to each slot is read before the batch writes and
again after, and the rollup rows get the difference. Recomputing a slot reads every row in it,
and a slot taking a thousand messages a second grows by that much each second; the difference
reads only the recomputed rows (docs/events.md, "Throughput and freshness").
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from crm_metrics.compiler import compile_sql
from crm_metrics.dialects import Dialect

#: metric_slots' priced columns (the priced rollup, docs/costs.md): sql/derived/slot_prices.sql.
SLOT_PRICES = (
    "input_tokens", "output_tokens", "llm_cost", "whatsapp_charged_messages", "whatsapp_free_messages",
    "whatsapp_unpriced_messages", "whatsapp_marketing_cost", "whatsapp_utility_cost", "whatsapp_authentication_cost",
    "total_whatsapp_cost",
)
#: The rate card the priced columns hold: its name (fingerprint), and its tables.
RATE_CARD = "crm_metrics_rate_card"

#: Derived table -> the template that computes its rows for the touched conversations.
FACTS = {"conversation_facts": "derived/conversation_facts", "message_facts": "derived/message_facts"}
ROLLUP = "metric_slots"
#: The rollup of priced costs (docs/costs.md): counts and token sums per slot and price group.
COSTS = "cost_slots"


@dataclass(frozen=True)
class Refresh:
    """Statements that bring the derived `tables` up to date for the conversations listed in
    the temporary table `crm_metrics_touched(conversation_id)`, to run in order, in the
    transaction that wrote the base tables. They drop the temporary tables they create."""

    tables: tuple[str, ...]
    statements: tuple[str, ...]
    #: Statements to run once `crm_metrics_touched` is made and before the base tables are
    #: written (what the touched conversations add to the rollup before the change).
    before: tuple[str, ...] = ()
    #: The refresh to run instead when the rollup may not agree with the touched
    #: conversations' stored rows (a write of another client not yet applied to it).
    instead: Refresh | None = None


def _facts(dialect: Dialect) -> list[str]:
    """The touched conversations' facts, deleted and computed again whole (a late message may
    change its neighbours' turns; an event batch recomputes less, `_suffix`)."""
    touched = "SELECT t.conversation_id FROM crm_metrics_touched AS t"
    facts = []
    for table, template in FACTS.items():
        facts += [
            f"DELETE FROM {table} WHERE conversation_id IN ({touched})",
            f"INSERT INTO {table} {compile_sql(template, dialect).sql}",
        ]
    return facts


@functools.cache
def refresh(dialect: Dialect, *, rollup: bool, costs: bool = True, prices: bool = False) -> Refresh:
    """The refresh of the facts tables, and of the rollup too when `rollup` (with its priced
    part, `cost_slots`, unless `costs` is False: a store made before that table; and with
    `prices`, metric_slots' priced columns by the stored rate card, `reprice`)."""
    facts = _facts(dialect)
    prices = prices and costs
    if not rollup:
        return Refresh(tuple(FACTS), tuple(facts))
    keys = compile_sql("derived/slot_keys", dialect).sql
    slots = compile_sql("derived/metric_slots", dialect).sql
    # The priced costs' groups of the same slots, replaced wholesale (no price enters them).
    costs = () if not costs else (
        f"DELETE FROM {COSTS} USING crm_metrics_touched_slots AS k WHERE {COSTS}.tenant_id = k.tenant_id AND {COSTS}.slot_start = k.slot_start",
        f"INSERT INTO {COSTS} {compile_sql('derived/cost_slots', dialect).sql}",
    )
    touched = f"{ROLLUP}.tenant_id = k.tenant_id AND {ROLLUP}.slot_start = k.slot_start"
    if dialect is Dialect.POSTGRES:
        # PostgreSQL plans the rollup's statements from the slots' statistics, which autovacuum
        # never gathers for a temporary table: a few slots want index lookups, all of them
        # scans. Only the rows that changed are rewritten: a message added to a conversation
        # changes one of the slots it feeds, and each rewritten row costs its two index
        # entries (a rollup row is unique per tenant, outlet and slot, so equal rows pair up).
        rollup = (
            *_analyze(dialect, "crm_metrics_touched_slots"),
            f"CREATE TEMP TABLE crm_metrics_slots (LIKE {ROLLUP})",
            f"INSERT INTO crm_metrics_slots ({SLOT_COLUMNS}) {slots}",
            # Priced before they are compared: a row whose costs changed is rewritten too.
            *((*_analyze(dialect, "crm_metrics_slots"), *reprice(dialect, "crm_metrics_slots")) if prices else ()),
            f"DELETE FROM {ROLLUP} USING crm_metrics_touched_slots AS k WHERE {touched}"
            f" AND NOT EXISTS (SELECT FROM crm_metrics_slots AS n WHERE n.tenant_id = {ROLLUP}.tenant_id"
            f" AND n.slot_start = {ROLLUP}.slot_start AND ROW(n.*) IS NOT DISTINCT FROM ROW({ROLLUP}.*))",
            f"INSERT INTO {ROLLUP} SELECT n.* FROM crm_metrics_slots AS n WHERE NOT EXISTS (SELECT FROM {ROLLUP} AS o"
            " WHERE o.tenant_id = n.tenant_id AND o.slot_start = n.slot_start AND ROW(o.*) IS NOT DISTINCT FROM ROW(n.*))",
            "DROP TABLE crm_metrics_slots",
        )
    else:
        rollup = (
            f"DELETE FROM {ROLLUP} USING crm_metrics_touched_slots AS k WHERE {touched}",
            f"INSERT INTO {ROLLUP} ({SLOT_COLUMNS}) {slots}",
            *(reprice(dialect, ROLLUP) if prices else ()),
        )
    return Refresh(
        (*FACTS, ROLLUP, *([COSTS] if costs else [])),
        (
            # The slots the touched conversations fed before the change...
            f"CREATE TEMP TABLE crm_metrics_touched_slots AS {keys}",
            *facts,
            # ... and those they feed now.
            f"INSERT INTO crm_metrics_touched_slots {keys}",
            # The priced groups first: the rollup's priced columns are read from them.
            *costs,
            *rollup,
            "DROP TABLE crm_metrics_touched_slots",
        ),
    )


#: Each rollup table's key and measures (the columns of sql/schema/postgres-rollup.sql), and
#: the measure that is 0 exactly where no row feeds the key: the rollup holds no row there.
SLOT_KEY = ("tenant_id", "outlet_id", "slot_start")
SLOT_MEASURES = (
    "conversations", "active_conversations", "resolved_conversations", "handed_off_conversations", "ended_conversations",
    "duration_us", "handoffs", "keyword_handoffs", "confidence_handoffs", "handoff_us", "messages", "customer_messages",
    "llm_messages", "agent_messages", "llm_tokens", "replied_turns", "response_us",
)
COST_KEY = (*SLOT_KEY, "kind", "phone", "charged", "category", "model")
COST_MEASURES = ("messages", "input_tokens", "output_tokens", "flat_tokens", "tokens_used")
#: Key columns that may be null (matched with IS NOT DISTINCT FROM).
_NULLABLE = ("outlet_id", "phone", "category", "model")
#: metric_slots' columns that sql/derived/metric_slots.sql computes, in its order.
SLOT_COLUMNS = ", ".join((*SLOT_KEY, *SLOT_MEASURES))


def _same_slot(a: str, b: str) -> str:
    """Rows `a` and `b` of the same rollup key (tenant, outlet or none, slot), as equalities
    a planner can hash."""
    return (
        f"{a}.tenant_id = {b}.tenant_id AND {a}.slot_start = {b}.slot_start"
        f" AND ({a}.outlet_id IS NULL) = ({b}.outlet_id IS NULL) AND COALESCE({a}.outlet_id, '') = COALESCE({b}.outlet_id, '')"
    )


def _analyze(dialect: Dialect, *tables: str) -> tuple[str, ...]:
    """ANALYZE of temporary tables on PostgreSQL, right after they are filled: autovacuum never
    gathers their statistics, and the statements that join them plan from those."""
    return tuple(f"ANALYZE {table}" for table in tables) if dialect is Dialect.POSTGRES else ()


def reprice(dialect: Dialect, target: str = ROLLUP) -> tuple[str, ...]:
    """The statements that set the priced columns of `target`'s rows (metric_slots, or a copy
    of its rows) in the slots listed in `crm_metrics_touched_slots` from their cost_slots
    groups and the stored rate card (sql/derived/slot_prices.sql); 0 where a row has no group.
    One statement on DuckDB: an event batch pays its planning per statement. On PostgreSQL only
    rows whose figures change are rewritten. The slots are a semi-join (EXISTS), here and in
    slot_prices.sql, of a slot list the caller has analyzed (`_analyze`): PostgreSQL estimated
    a join to their DISTINCT list at a hundredth of its rows, took every slot of an install for
    three and priced them in a nested loop (the bench's small set ran for half an hour)."""
    priced = compile_sql("derived/slot_prices", dialect).sql
    columns = ", ".join(f"COALESCE(p.{c}, 0) AS {c}" for c in SLOT_PRICES)
    changed = ""
    if dialect is Dialect.POSTGRES:
        changed = f" AND ({', '.join(f't.{c}' for c in SLOT_PRICES)}) IS DISTINCT FROM ({', '.join(f'n.{c}' for c in SLOT_PRICES)})"
    return (
        f"UPDATE {target} AS t SET {', '.join(f'{c} = n.{c}' for c in SLOT_PRICES)} FROM ("
        f"SELECT r.tenant_id, r.outlet_id, r.slot_start, {columns}"
        f" FROM {target} AS r LEFT JOIN ({priced}) AS p ON {_same_slot('p', 'r')}"
        " WHERE EXISTS (SELECT 1 FROM crm_metrics_touched_slots AS k WHERE k.tenant_id = r.tenant_id AND k.slot_start = r.slot_start)"
        f") AS n WHERE {_same_slot('t', 'n')}{changed}",
    )


def reprice_all(dialect: Dialect) -> tuple[str, ...]:
    """Every rollup row's priced columns by the stored rate card (a card installed)."""
    return (
        f"CREATE TEMP TABLE crm_metrics_touched_slots AS SELECT DISTINCT tenant_id, slot_start FROM {ROLLUP}",
        *_analyze(dialect, "crm_metrics_touched_slots"),
        *reprice(dialect),
        "DROP TABLE crm_metrics_touched_slots",
    )


#: The columns of message_facts, in order (crm_metrics_recomputed has one more: metadata).
MESSAGE_FACTS = "tenant_id, outlet_id, conversation_id, id, ts, sender_type, tokens_used, turn_start, reply_at, response_us"


def _suffix(dialect: Dialect) -> tuple[list[str], list[str]]:
    """An event batch's facts: (before the writes, after them). Before: where each touched
    conversation's facts may start to change (`crm_metrics_from`, sql/derived/suffix_starts.sql,
    from `crm_metrics_moved`: the old and new timestamps of the batch's messages), and a copy of
    the message facts from there on (`crm_metrics_recomputed`). After: those message facts
    deleted and computed again (message_facts_from.sql; `crm_metrics_recomputed` then holds the
    new ones), and the touched conversations' facts rows from their stored values and those
    messages (conversation_facts_from.sql). The rollup's difference reads the two copies."""
    postgres = dialect is Dialect.POSTGRES
    on_commit = " ON COMMIT DROP" if postgres else ""

    # With each message's metadata (what its cost reads). PostgreSQL looks each message up by
    # its id (as a join, it looked each up among its conversation's messages: it estimates their
    # number as the average conversation's, and the conversations taking events are the
    # longest); DuckDB joins (the subquery was 3x slower), the timestamp letting it skip the
    # row groups of other times.
    metadata = (
        "(SELECT m.metadata FROM messages AS m WHERE m.id = f.id AND m.conversation_id = f.conversation_id) AS metadata"
        if postgres
        else "m.metadata"
    )
    before = [
        f"CREATE TEMP TABLE crm_metrics_from{on_commit} AS {compile_sql('derived/suffix_starts', dialect).sql}",
        *_analyze(dialect, "crm_metrics_from"),
        f"CREATE TEMP TABLE crm_metrics_recomputed{on_commit} AS SELECT f.*, {metadata} FROM message_facts AS f"
        " JOIN crm_metrics_from AS r ON r.conversation_id = f.conversation_id AND f.ts >= r.from_ts"
        f"{'' if postgres else ' LEFT JOIN messages AS m ON m.id = f.id AND m.conversation_id = f.conversation_id AND m.timestamp = f.ts'}",
        *_analyze(dialect, "crm_metrics_recomputed"),
    ]
    facts = [
        # What the message facts about to be replaced counted (conversations recomputed whole
        # are not read: their stored row is not either).
        "CREATE TEMP TABLE crm_metrics_old_suffix AS SELECT f.conversation_id, COUNT(*) AS messages,"
        " SUM(CASE WHEN f.sender_type = 'agent' THEN 1 ELSE 0 END) AS agent_messages,"
        " SUM(CASE WHEN f.sender_type = 'llm' THEN f.tokens_used ELSE 0 END) AS llm_tokens"
        " FROM crm_metrics_recomputed AS f JOIN crm_metrics_from AS r ON r.conversation_id = f.conversation_id"
        " WHERE NOT r.whole GROUP BY f.conversation_id",
        f"CREATE TEMP TABLE crm_metrics_new_conversations AS {compile_sql('derived/conversation_facts_from', dialect).sql}",
        "DELETE FROM conversation_facts WHERE conversation_id IN (SELECT r.conversation_id FROM crm_metrics_from AS r)",
        "INSERT INTO conversation_facts SELECT * FROM crm_metrics_new_conversations",
        "DROP TABLE crm_metrics_new_conversations",
        "DROP TABLE crm_metrics_old_suffix",
        "DELETE FROM message_facts AS f USING crm_metrics_from AS r WHERE r.conversation_id = f.conversation_id AND f.ts >= r.from_ts",
        "DROP TABLE crm_metrics_recomputed",
        f"CREATE TEMP TABLE crm_metrics_recomputed{on_commit} AS {compile_sql('derived/message_facts_from', dialect).sql}",
        *_analyze(dialect, "crm_metrics_recomputed"),
        f"INSERT INTO message_facts ({MESSAGE_FACTS}) SELECT {MESSAGE_FACTS} FROM crm_metrics_recomputed",
    ]
    return before, facts


@functools.cache
def events(dialect: Dialect, *, rollup: bool, costs: bool = True, prices: bool = False) -> Refresh:
    """The refresh of an event batch: the facts from each touched conversation's first message
    that may change on (`_suffix`), and the rollup and its priced part changed by the difference
    of what those facts add to them (sql/derived/slot_changes.sql, cost_changes.sql), before and
    after. The batch lists its messages' old and new timestamps in `crm_metrics_moved`
    (crm_metrics/events.py). Exact while the derived tables agree with the stored rows, which
    every writer of them keeps, except on PostgreSQL a write of another client that the live
    rollup has not applied yet: then `instead`, the whole recomputation a load does."""
    before, facts = _suffix(dialect)
    tables: tuple[str, ...] = tuple(FACTS)
    after: list[str] = []
    postgres = dialect is Dialect.POSTGRES
    on_commit = " ON COMMIT DROP" if postgres else ""
    parts = []
    if rollup:
        tables = (*FACTS, ROLLUP, *([COSTS] if costs else []))
        parts.append((ROLLUP, "derived/slot_changes", SLOT_KEY, SLOT_MEASURES, ("conversations", "messages")))
        if costs:
            parts.append((COSTS, "derived/cost_changes", COST_KEY, COST_MEASURES, ("messages",)))
    drops = ["DROP TABLE crm_metrics_recomputed", "DROP TABLE crm_metrics_from"]
    for table, template, key, measures, present in parts:
        added = compile_sql(template, dialect).sql
        old, delta = f"crm_metrics_old_{table}", f"crm_metrics_{table}_delta"
        keys = ", ".join(key)
        # Null-safe equality as equalities the planner can hash (IS NOT DISTINCT FROM is
        # not one): looked up in the (tenant, slot) index instead, each delta row read every
        # group of its slot, and a busy slot has thousands (a group per customer number).
        match = " AND ".join(
            f"(t.{c} IS NULL) = (d.{c} IS NULL) AND COALESCE(t.{c}, '') = COALESCE(d.{c}, '')" if c in _NULLABLE else f"t.{c} = d.{c}"
            for c in key
        )
        before.append(f"CREATE TEMP TABLE {old}{on_commit} AS {added}")
        after += [
            f"CREATE TEMP TABLE {delta}{on_commit} AS SELECT {keys}, {', '.join(f'SUM({c}) AS {c}' for c in measures)}"
            f" FROM (SELECT {keys}, {', '.join(measures)} FROM ({added}) AS n"
            f" UNION ALL SELECT {keys}, {', '.join(f'-{c}' for c in measures)} FROM {old}) AS d"
            f" GROUP BY {keys} HAVING {' OR '.join(f'SUM({c}) <> 0' for c in measures)}",
            # Its statistics: the joins below look each key up in the rollup's index.
            *_analyze(dialect, delta),
            f"UPDATE {table} AS t SET {', '.join(f'{c} = t.{c} + d.{c}' for c in measures)} FROM {delta} AS d WHERE {match}",
            f"INSERT INTO {table} ({keys}, {', '.join(measures)}) SELECT d.* FROM {delta} AS d"
            f" WHERE NOT EXISTS (SELECT 1 FROM {table} AS t WHERE {match})",
            # A key that no row feeds any more has no rollup row (as the recomputation leaves
            # it); only the update above leaves such rows (on PostgreSQL found by a partial index).
            f"DELETE FROM {table} WHERE {' AND '.join(f'{c} = 0' for c in present)}",
        ]
        drops += [f"DROP TABLE {old}", f"DROP TABLE {delta}"]
    if rollup and costs and prices:
        # The priced columns of the slots whose groups changed, from their groups as they are now.
        after += [
            f"CREATE TEMP TABLE crm_metrics_touched_slots AS SELECT DISTINCT tenant_id, slot_start FROM crm_metrics_{COSTS}_delta",
            *_analyze(dialect, "crm_metrics_touched_slots"),
            *reprice(dialect),
            "DROP TABLE crm_metrics_touched_slots",
        ]
    return Refresh(
        tables,
        (*facts, *after, *drops),
        before=tuple(before),
        instead=refresh(dialect, rollup=rollup, costs=costs, prices=prices) if postgres else None,
    )
