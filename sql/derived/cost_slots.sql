-- name: cost_slots
-- table: The rows of `cost_slots` (the rollup of priced costs, docs/costs.md) for the (tenant,
--   15-minute slot) pairs listed in `crm_metrics_touched_slots`: the slot's llm, agent and
--   system messages grouped by what decides their price, in units that do not depend on any
--   price table (counts and token sums), so that a new price table changes answers at once.
--   Recomputed with metric_slots by every load for the slots its conversations touch.
-- grain: per tenant, slot and group, one row for the whole tenant (outlet_id null) and one per
--   outlet; ordered by (tenant_id, outlet_id, slot_start).
-- columns:
--   tenant_id      STRING     the tenant
--   outlet_id      STRING     the outlet; null: the whole tenant
--   slot_start     TIMESTAMP  the slot's first instant (UTC, on a 15-minute bound)
--   kind           STRING     whatsapp (a row per number and category of charged messages, one of the free ones) or llm (a row per model)
--   phone          STRING     whatsapp, charged: the conversation's customer_phone without one leading '+' (null: free)
--   charged        BOOL       whatsapp: metadata.pricing.type is "regular"
--   category       STRING     whatsapp, charged: metadata.pricing.category when a string
--   model          STRING     llm: metadata.model when a string
--   messages       INT64      messages of the group
--   input_tokens   INT64      llm: sum of metadata.input_tokens (read as tokens_used)
--   output_tokens  INT64      llm: sum of metadata.output_tokens
--   flat_tokens    INT64      llm: sum of tokens_used over messages with neither token key
--   tokens_used    INT64      llm: sum of tokens_used
{% import 'macros/rollup.sql' as m with context -%}
{% import 'macros/costs.sql' as costs with context -%}
WITH
  touched AS (
    SELECT DISTINCT k.tenant_id, k.slot_start FROM crm_metrics_touched_slots AS k
  ),
  priced_rows AS (
    {% call costs.message_rows('m.tenant_id, m.outlet_id, m.slot_start') -%}
    SELECT f.tenant_id, f.outlet_id, k.slot_start, f.ts, f.sender_type, msg.metadata, c.customer_phone
      FROM touched AS k
      {#- As metric_slots.sql reads the facts: the time range for an index on (tenant, time)
          where few slots are touched, the slot's equality for a hash join where many are (a
          rebuild), and the touched slots' bounds so that a small load reads few rows. #}
      JOIN message_facts AS f
        ON f.tenant_id = k.tenant_id
        AND f.ts >= k.slot_start
        AND f.ts < TIMESTAMP_ADD(k.slot_start, INTERVAL {{ SLOT_MINUTES }} MINUTE)
        AND {{ m.slot('f.ts') }} = k.slot_start
      JOIN messages AS msg ON msg.id = f.id AND msg.conversation_id = f.conversation_id
      JOIN conversations AS c ON c.id = f.conversation_id
      WHERE f.sender_type IN ('llm', 'agent', 'system')
        AND f.ts >= (SELECT MIN(t.slot_start) FROM touched AS t)
        AND f.ts < TIMESTAMP_ADD((SELECT MAX(t.slot_start) FROM touched AS t), INTERVAL {{ SLOT_MINUTES }} MINUTE)
    {%- endcall %}
  )
{{ costs.slot_groups('priced_rows') }}
ORDER BY g.tenant_id, g.outlet_id NULLS FIRST, g.slot_start
