-- name: slot_changes
-- table: What an event batch's recomputed facts add to `metric_slots`, as they are when this
--   runs: the rows of conversation_facts of the conversations listed in `crm_metrics_from`
--   (sql/derived/suffix_starts.sql), and their rows of message_facts from each one's from_ts
--   on, copied to `crm_metrics_recomputed`; with the same measures per tenant (and outlet) and
--   15-minute UTC slot as metric_slots.sql. An event batch reads it before and after it
--   rewrites those rows and adds the difference to the rollup (crm_metrics/derived.py,
--   `events`): its work follows the messages it changes, not how busy their slots are nor how
--   long their conversations are.
-- grain: per tenant and slot those conversations feed, one row for the whole tenant (outlet_id
--   null) and one per outlet.
-- columns:
--   tenant_id                 STRING     the tenant
--   outlet_id                 STRING     the outlet; null: the whole tenant
--   slot_start                TIMESTAMP  the slot's first instant (UTC, on a 15-minute bound)
--   conversations             INT64      as metric_slots.sql, over those rows
--   active_conversations      INT64      as metric_slots.sql
--   resolved_conversations    INT64      as metric_slots.sql
--   handed_off_conversations  INT64      as metric_slots.sql
--   ended_conversations       INT64      as metric_slots.sql
--   duration_us               INT64      as metric_slots.sql
--   handoffs                  INT64      as metric_slots.sql
--   keyword_handoffs          INT64      as metric_slots.sql
--   confidence_handoffs       INT64      as metric_slots.sql
--   handoff_us                INT64      as metric_slots.sql
--   messages                  INT64      as metric_slots.sql
--   customer_messages         INT64      as metric_slots.sql
--   llm_messages              INT64      as metric_slots.sql
--   agent_messages            INT64      as metric_slots.sql
--   llm_tokens                INT64      as metric_slots.sql
--   replied_turns             INT64      as metric_slots.sql
--   response_us               INT64      as metric_slots.sql
{% import 'macros/rollup.sql' as m with context -%}
WITH
  activity AS (
    SELECT
      f.tenant_id,
      f.outlet_id,
      {{ m.slot('f.started_at') }} AS slot_start,
      {{ m.conversation_measures('f') }}
    FROM conversation_facts AS f
    WHERE f.conversation_id IN (SELECT r.conversation_id FROM crm_metrics_from AS r)
    UNION ALL
    SELECT
      f.tenant_id,
      f.outlet_id,
      {{ m.slot('f.ts') }},
      {{ m.message_measures('f') }}
    FROM crm_metrics_recomputed AS f
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
