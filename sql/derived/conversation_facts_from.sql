-- name: conversation_facts_from
-- table: The rows of `conversation_facts` an event batch writes (crm_metrics/derived.py, `events`)
--   for the conversations listed in `crm_metrics_from` (sql/derived/suffix_starts.sql), with the
--   columns of conversation_facts.sql, from the stored row and the recomputed messages only:
--   counts are the stored ones less what the recomputed messages counted before the batch
--   (`crm_metrics_old_suffix`, read from message_facts) plus what they count now; the first
--   reply, the first handoff request and the first agent message after it are the stored ones
--   where they come before from_ts (no message before it changes), else read from the
--   recomputed messages (none before from_ts qualifies then). Where whole, every message is
--   recomputed and the stored row is not read.
-- grain: one row per listed conversation that exists, ordered by (tenant_id, started_at).
-- columns:
--   tenant_id          STRING     as conversation_facts.sql
--   outlet_id          STRING     as conversation_facts.sql
--   conversation_id    STRING     as conversation_facts.sql
--   started_at         TIMESTAMP  as conversation_facts.sql
--   status             STRING     as conversation_facts.sql
--   duration_us        INT64      as conversation_facts.sql
--   handoff_at         TIMESTAMP  as conversation_facts.sql
--   handoff_trigger    STRING     as conversation_facts.sql
--   messages           INT64      as conversation_facts.sql
--   agent_messages     INT64      as conversation_facts.sql
--   llm_tokens         INT64      as conversation_facts.sql
--   first_response_at  TIMESTAMP  as conversation_facts.sql
--   human_response_at  TIMESTAMP  as conversation_facts.sql
--   first_response_us  INT64      as conversation_facts.sql
--   human_response_us  INT64      as conversation_facts.sql
{% import 'macros/rows.sql' as rows with context -%}
{% import 'macros/outcomes.sql' as outcomes with context -%}
WITH
  recomputed AS (
    SELECT m.id, m.conversation_id, m.sender_type, m.timestamp, m.metadata
    FROM messages AS m
    JOIN crm_metrics_from AS r ON r.conversation_id = m.conversation_id
    WHERE m.timestamp >= r.from_ts
  ),
  agents AS (
    SELECT a.conversation_id, MIN(a.timestamp) AS first_agent_at
    FROM recomputed AS a
    WHERE a.sender_type = 'agent'
    GROUP BY a.conversation_id
  ),
  merged AS (
    SELECT
      c.tenant_id,
      c.outlet_id,
      c.id,
      c.started_at,
      c.status,
      c.ended_at,
      COALESCE(old.handoff_at < r.from_ts, FALSE) AS kept_handoff,
      old.handoff_at AS old_handoff_at,
      old.handoff_trigger AS old_handoff_trigger,
      h.handoff_at,
      h.handoff_trigger,
      COALESCE(old.messages, 0) - COALESCE(os.messages, 0) + COALESCE(o.messages, 0) AS messages,
      COALESCE(old.agent_messages, 0) - COALESCE(os.agent_messages, 0) + COALESCE(o.agent_messages, 0) AS agent_messages,
      COALESCE(old.llm_tokens, 0) - COALESCE(os.llm_tokens, 0) + COALESCE(o.llm_tokens, 0) AS llm_tokens,
      IF(COALESCE(old.first_response_at < r.from_ts, FALSE), old.first_response_at, o.first_response_at) AS first_response_at,
      IF(COALESCE(old.human_response_at < r.from_ts, FALSE), old.human_response_at, a.first_agent_at) AS human_after_kept,
      o.human_response_at
    FROM conversations AS c
    JOIN crm_metrics_from AS r ON r.conversation_id = c.id
    LEFT JOIN conversation_facts AS old ON old.conversation_id = c.id AND NOT r.whole
    LEFT JOIN crm_metrics_old_suffix AS os ON os.conversation_id = c.id
    LEFT JOIN (
      {{ rows.first_handoffs(None, messages='recomputed') }}
    ) AS h ON h.conversation_id = c.id
    LEFT JOIN (
      {{ outcomes.conversation_outcomes(None, messages='recomputed') }}
    ) AS o ON o.conversation_id = c.id
    LEFT JOIN agents AS a ON a.conversation_id = c.id
    -- As conversation_facts.sql: only conversations of a UUID tenant.
    WHERE REGEXP_CONTAINS(LOWER(c.tenant_id), r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
  ),
  decided AS (
    SELECT
      f.*,
      IF(f.kept_handoff, f.old_handoff_at, f.handoff_at) AS first_handoff_at,
      IF(f.kept_handoff, f.old_handoff_trigger, f.handoff_trigger) AS first_handoff_trigger,
      IF(f.kept_handoff, f.human_after_kept, f.human_response_at) AS human_at
    FROM merged AS f
  )
SELECT
  LOWER(d.tenant_id) AS tenant_id,
  LOWER(d.outlet_id) AS outlet_id,
  d.id AS conversation_id,
  d.started_at,
  d.status,
  TIMESTAMP_DIFF(d.ended_at, d.started_at, MICROSECOND) AS duration_us,
  d.first_handoff_at AS handoff_at,
  d.first_handoff_trigger AS handoff_trigger,
  d.messages,
  d.agent_messages,
  d.llm_tokens,
  d.first_response_at,
  d.human_at AS human_response_at,
  TIMESTAMP_DIFF(d.first_response_at, d.started_at, MICROSECOND) AS first_response_us,
  TIMESTAMP_DIFF(d.human_at, d.first_handoff_at, MICROSECOND) AS human_response_us
FROM decided AS d
ORDER BY tenant_id, d.started_at
