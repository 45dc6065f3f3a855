-- name: conversation_facts
-- table: The rows of `conversation_facts` (a derived table: DuckDB, PostgreSQL with --rollup) for the
--   conversations listed in `crm_metrics_touched`: each conversation with its tenant, its
--   duration and its first handoff request, so that queries read typed columns instead of
--   JSON and windows. `crm-metrics load` recomputes them for every conversation a file touches.
-- grain: one row per conversation, ordered by (tenant_id, started_at).
-- columns:
--   tenant_id        STRING     the conversation's tenant, lowercased
--   outlet_id        STRING     its outlet, lowercased, or null
--   conversation_id  STRING     the conversation
--   started_at       TIMESTAMP  when it started
--   status           STRING     its current status
--   duration_us      INT64      ended_at - started_at in microseconds; null without ended_at
--   handoff_at       TIMESTAMP  its first message with metadata.handoff_requested true; null if none
--   handoff_trigger  STRING     that message's metadata.trigger
--   messages           INT64      its messages, whatever their timestamp
--   agent_messages     INT64      of those, sender_type = 'agent'
--   llm_tokens         INT64      tokens_used summed over its llm messages
--   first_response_at  TIMESTAMP  its first llm or agent message; null if none
--   human_response_at  TIMESTAMP  its first agent message after the first handoff request in message order; null if none
--   first_response_us  INT64      first_response_at - started_at in microseconds; null without first_response_at
--   human_response_us  INT64      human_response_at - handoff_at in microseconds; null without human_response_at
{% import 'macros/rows.sql' as rows with context -%}
{% import 'macros/outcomes.sql' as outcomes with context -%}
SELECT
  LOWER(c.tenant_id) AS tenant_id,
  LOWER(c.outlet_id) AS outlet_id,
  c.id AS conversation_id,
  c.started_at,
  c.status,
  TIMESTAMP_DIFF(c.ended_at, c.started_at, MICROSECOND) AS duration_us,
  h.handoff_at,
  h.handoff_trigger,
  -- Appended last: a store made before these columns gets them by ALTER TABLE (sql/schema/).
  COALESCE(o.messages, 0) AS messages,
  COALESCE(o.agent_messages, 0) AS agent_messages,
  COALESCE(o.llm_tokens, 0) AS llm_tokens,
  o.first_response_at,
  o.human_response_at,
  -- Stored so that reads do no timestamp arithmetic (PostgreSQL's is numeric, ~1 µs a row).
  TIMESTAMP_DIFF(o.first_response_at, c.started_at, MICROSECOND) AS first_response_us,
  TIMESTAMP_DIFF(o.human_response_at, h.handoff_at, MICROSECOND) AS human_response_us
FROM conversations AS c
LEFT JOIN (
  {{ rows.first_handoffs("SELECT t.conversation_id FROM crm_metrics_touched AS t") }}
) AS h ON h.conversation_id = c.id
LEFT JOIN (
  {{ outcomes.conversation_outcomes("SELECT t.conversation_id FROM crm_metrics_touched AS t") }}
) AS o ON o.conversation_id = c.id
WHERE c.id IN (SELECT t.conversation_id FROM crm_metrics_touched AS t)
  -- A request's tenant is always a UUID (compared lowercased): rows of other tenant ids, which
  -- only other writers can store (the loader refuses them), can never answer one, and leaving
  -- them out lets the store keep tenant_id as a UUID.
  AND REGEXP_CONTAINS(LOWER(c.tenant_id), r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
ORDER BY tenant_id, c.started_at
