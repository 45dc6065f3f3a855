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
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from crm_metrics.compiler import compile_sql
from crm_metrics.dialects import Dialect

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


@functools.cache
def refresh(dialect: Dialect, *, rollup: bool, costs: bool = True) -> Refresh:
    """The refresh of the facts tables, and of the rollup too when `rollup` (with its priced
    part, `cost_slots`, unless `costs` is False: a store made before that table)."""
    touched = "SELECT t.conversation_id FROM crm_metrics_touched AS t"
    facts = []
    for table, template in FACTS.items():
        facts += [
            f"DELETE FROM {table} WHERE conversation_id IN ({touched})",
            f"INSERT INTO {table} {compile_sql(template, dialect).sql}",
        ]
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
            "ANALYZE crm_metrics_touched_slots",
            f"CREATE TEMP TABLE crm_metrics_slots (LIKE {ROLLUP})",
            f"INSERT INTO crm_metrics_slots {slots}",
            f"DELETE FROM {ROLLUP} USING crm_metrics_touched_slots AS k WHERE {touched}"
            f" AND NOT EXISTS (SELECT FROM crm_metrics_slots AS n WHERE n.tenant_id = {ROLLUP}.tenant_id"
            f" AND n.slot_start = {ROLLUP}.slot_start AND ROW(n.*) IS NOT DISTINCT FROM ROW({ROLLUP}.*))",
            f"INSERT INTO {ROLLUP} SELECT n.* FROM crm_metrics_slots AS n WHERE NOT EXISTS (SELECT FROM {ROLLUP} AS o"
            " WHERE o.tenant_id = n.tenant_id AND o.slot_start = n.slot_start AND ROW(o.*) IS NOT DISTINCT FROM ROW(n.*))",
            "DROP TABLE crm_metrics_slots",
        )
    else:
        rollup = (f"DELETE FROM {ROLLUP} USING crm_metrics_touched_slots AS k WHERE {touched}", f"INSERT INTO {ROLLUP} {slots}")
    return Refresh(
        (*FACTS, ROLLUP, *([COSTS] if costs else [])),
        (
            # The slots the touched conversations fed before the change...
            f"CREATE TEMP TABLE crm_metrics_touched_slots AS {keys}",
            *facts,
            # ... and those they feed now.
            f"INSERT INTO crm_metrics_touched_slots {keys}",
            *rollup,
            *costs,
            "DROP TABLE crm_metrics_touched_slots",
        ),
    )
