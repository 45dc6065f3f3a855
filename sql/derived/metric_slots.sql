-- name: metric_slots
-- table: The rows of `metric_slots` (the embedded store's rollup) for the (tenant, slot) pairs
--   listed in `crm_metrics_touched_slots`: every count and sum the contract's series and
--   summary need, per 15-minute UTC slot, from the derived tables. Offsets of every timezone
--   in use come in 15-minute steps, so any range's local days are whole slots; a bucket's
--   averages are its sums divided by its counts, exactly as over the raw rows.
-- grain: per tenant and slot with any activity, one row for the whole tenant (outlet_id null)
--   and one per outlet; ordered by (tenant_id, outlet_id, slot_start).
-- columns:
--   tenant_id                 STRING     the tenant
--   outlet_id                 STRING     the outlet; null: the whole tenant (every outlet, and conversations without one)
--   slot_start                TIMESTAMP  the slot's first instant (UTC, on a 15-minute bound)
--   conversations             INT64      conversations started in the slot
--   active_conversations      INT64      of those, current status = 'active'
--   resolved_conversations    INT64      of those, current status = 'resolved'
--   handed_off_conversations  INT64      of those, current status = 'handed_off'
--   ended_conversations       INT64      of those, with ended_at
--   duration_us               INT64      their sum of ended_at - started_at, in microseconds
--   handoffs                  INT64      conversations started in the slot with a handoff request
--   keyword_handoffs          INT64      of those, the first request's trigger = 'keyword'
--   confidence_handoffs       INT64      of those, the first request's trigger = 'confidence'
--   handoff_us                INT64      their sum of first request - started_at, in microseconds
--   messages                  INT64      messages sent in the slot, of any sender type
--   customer_messages         INT64      of those, sender_type = 'customer'
--   llm_messages              INT64      of those, sender_type = 'llm'
--   agent_messages            INT64      of those, sender_type = 'agent'
--   llm_tokens                INT64      tokens_used summed over the llm messages
--   replied_turns             INT64      customer turns starting in the slot that got a reply (whenever)
--   response_us               INT64      their sum of reply - turn start, in microseconds
{% import 'macros/rollup.sql' as m with context -%}
{#- The facts `f` in the touched slot `k`: the time range for PostgreSQL's index on (tenant, time),
    one lookup per touched slot (a small batch reads its slots, not its tenants' history); the
    slot's equality for a hash join where many slots are touched (a DuckDB load, a full refresh). -#}
{% macro in_slot(ts) -%}
f.tenant_id = k.tenant_id
      AND {{ ts }} >= k.slot_start
      AND {{ ts }} < TIMESTAMP_ADD(k.slot_start, INTERVAL {{ SLOT_MINUTES }} MINUTE)
      AND {{ m.slot(ts) }} = k.slot_start
{%- endmacro %}
{#- Between the first and the last touched slot: the facts are ordered by (tenant, time), so a
    small load reads a few row groups, not the tenant's whole history. -#}
{% macro within_touched(ts) -%}
{{ ts }} >= (SELECT MIN(k.slot_start) FROM touched AS k)
      AND {{ ts }} < TIMESTAMP_ADD((SELECT MAX(k.slot_start) FROM touched AS k), INTERVAL {{ SLOT_MINUTES }} MINUTE)
{%- endmacro %}
WITH
  touched AS (
    SELECT DISTINCT k.tenant_id, k.slot_start FROM crm_metrics_touched_slots AS k
  ),
  activity AS (
    SELECT
      f.tenant_id,
      f.outlet_id,
      k.slot_start,
      {{ m.conversation_measures('f') }}
    FROM touched AS k
    JOIN conversation_facts AS f ON {{ in_slot('f.started_at') }}
    WHERE {{ within_touched('f.started_at') }}
    UNION ALL
    SELECT
      f.tenant_id,
      f.outlet_id,
      k.slot_start,
      {{ m.message_measures('f') }}
    FROM touched AS k
    JOIN message_facts AS f ON {{ in_slot('f.ts') }}
    WHERE {{ within_touched('f.ts') }}
  )
SELECT
  a.tenant_id,
  a.outlet_id,
  a.slot_start,
  {{ m.sum_slots('a') }}
FROM activity AS a
GROUP BY GROUPING SETS ((a.tenant_id, a.slot_start), (a.tenant_id, a.outlet_id, a.slot_start))
-- The outlet rows of conversations without an outlet would repeat the whole tenant's key.
HAVING a.outlet_id IS NOT NULL OR GROUPING(a.outlet_id) = 1
ORDER BY a.tenant_id, a.outlet_id NULLS FIRST, a.slot_start
