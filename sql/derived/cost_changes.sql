-- name: cost_changes
-- table: What an event batch's recomputed message facts add to `cost_slots`: the llm, agent
--   and system messages of each conversation listed in `crm_metrics_from` from its from_ts on
--   (sql/derived/suffix_starts.sql), as their facts copied to `crm_metrics_recomputed` list
--   them with the messages' metadata, and the conversations' numbers as stored when this runs,
--   grouped as cost_slots.sql groups a slot's. An event batch reads it before it writes and after it rewrites the facts, and adds
--   the difference to cost_slots (crm_metrics/derived.py, `events`). A message's cost reads
--   only itself and its conversation: the messages before from_ts, and the conversation row
--   unless whole, are the same before and after.
-- grain: per tenant, slot and group, one row for the whole tenant (outlet_id null) and one per
--   outlet.
-- columns:
--   tenant_id      STRING     the tenant
--   outlet_id      STRING     the outlet; null: the whole tenant
--   slot_start     TIMESTAMP  the slot's first instant (UTC, on a 15-minute bound)
--   kind           STRING     as cost_slots.sql
--   phone          STRING     as cost_slots.sql
--   charged        BOOL       as cost_slots.sql
--   category       STRING     as cost_slots.sql
--   model          STRING     as cost_slots.sql
--   messages       INT64      as cost_slots.sql, over those messages
--   input_tokens   INT64      as cost_slots.sql
--   output_tokens  INT64      as cost_slots.sql
--   flat_tokens    INT64      as cost_slots.sql
--   tokens_used    INT64      as cost_slots.sql
{% import 'macros/rollup.sql' as m with context -%}
{% import 'macros/costs.sql' as costs with context -%}
WITH
  priced_rows AS (
    {% call costs.message_rows('m.tenant_id, m.outlet_id, m.slot_start') -%}
    SELECT f.tenant_id, f.outlet_id, {{ m.slot('f.ts') }} AS slot_start, f.ts, f.sender_type, f.metadata, c.customer_phone
      FROM crm_metrics_recomputed AS f
      JOIN conversations AS c ON c.id = f.conversation_id
      WHERE f.sender_type IN ('llm', 'agent', 'system')
    {%- endcall %}
  )
{{ costs.slot_groups('priced_rows') }}
