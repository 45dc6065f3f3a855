-- name: tenant_summary
-- table: Tenant summary: the whole range in one row, computed from raw rows (not averaged
--   from daily values).
-- grain: one row for the range [start_date, end_date] in the request's timezone.
-- params:
--   tenant_id                     STRING     the tenant whose rows are read
--   outlet_id                     STRING     only this outlet's conversations (only when the outlet filter is on)
--   range_start                   TIMESTAMP  start_date 00:00 in tz, as an instant
--   range_end                     TIMESTAMP  (end_date + 1 day) 00:00 in tz, as an instant
--   llm_price_per_million_tokens  FLOAT64    LLM price in dollars per million tokens (default 0.15)
--   whatsapp_price_per_message    FLOAT64    WhatsApp price in dollars per message (default 0.01)
-- columns:
--   total_conversations            INT64    conversations started in the range
--   total_messages                 INT64    messages in the range, of any sender type
--   average_response_time_seconds  FLOAT64  mean response time over all customer turns that start in the range (their replies possibly after it); null if none
--   resolution_rate                FLOAT64  resolved / total conversations started in the range; null if none
--   handoff_rate                   FLOAT64  handed-off / total conversations started in the range; null if none
--   total_cost                     FLOAT64  LLM cost of the range's 'llm' messages + WhatsApp cost of all its messages
{% import '_macros.sql' as m with context -%}
WITH
  handoffs AS (
    {{ m.first_handoffs() }}
  ),
  started AS (
    SELECT
      COUNT(*) AS total_conversations,
      COUNTIF(c.status = 'resolved') AS resolved_conversations,
      COUNT(h.conversation_id) AS total_handoffs
    FROM conversations AS c
    LEFT JOIN handoffs AS h ON h.conversation_id = c.id
    WHERE {{ m.scope('c') }}
      AND {{ m.in_range('c.started_at') }}
  ),
  traffic AS (
    SELECT
      COUNT(*) AS total_messages,
      COALESCE(SUM(IF(msg.sender_type = 'llm', {{ m.tokens_used('msg.metadata') }}, 0)), 0) AS total_tokens_used
    FROM messages AS msg
    JOIN conversations AS c ON c.id = msg.conversation_id
    WHERE {{ m.scope('c') }}
      AND {{ m.in_range('msg.timestamp') }}
  ),
  turns AS (
    {{ m.customer_turns() }}
  ),
  response_times AS (
    SELECT AVG(TIMESTAMP_DIFF(reply_at, turn_at, MICROSECOND)) / 1000000 AS average_response_time_seconds
    FROM turns
    WHERE reply_at IS NOT NULL
  )
SELECT
  s.total_conversations,
  t.total_messages,
  r.average_response_time_seconds,
  SAFE_DIVIDE(s.resolved_conversations, s.total_conversations) AS resolution_rate,
  SAFE_DIVIDE(s.total_handoffs, s.total_conversations) AS handoff_rate,
  t.total_tokens_used * @llm_price_per_million_tokens / 1000000
    + t.total_messages * @whatsapp_price_per_message AS total_cost
FROM started AS s
CROSS JOIN traffic AS t
CROSS JOIN response_times AS r
