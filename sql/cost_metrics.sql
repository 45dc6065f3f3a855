-- name: cost_metrics
-- table: Cost metrics, the dashboard's "costs" series.
-- grain: one row per bucket (day, ISO week from Monday, or month; the first and last bucket
--   clipped to the range) of each message's timestamp, in the request's timezone. Every bucket
--   of the range appears, in date order. Prices are parameters, not code.
-- params:
--   tenant_id                     STRING     the tenant whose messages are read
--   outlet_id                     STRING     only this outlet's conversations (only when the outlet filter is on)
--   start_date                    DATE       first local date of the range, inclusive
--   end_date                      DATE       last local date of the range, inclusive
--   tz                            STRING     IANA timezone in which days are cut
--   range_start                   TIMESTAMP  start_date 00:00 in tz, as an instant
--   range_end                     TIMESTAMP  (end_date + 1 day) 00:00 in tz, as an instant
--   llm_price_per_million_tokens  FLOAT64    LLM price in dollars per million tokens (default 0.15)
--   whatsapp_price_per_message    FLOAT64    WhatsApp price in dollars per message (default 0.01)
-- columns:
--   date                   DATE     first date of the bucket
--   total_llm_calls        INT64    'llm' messages in the bucket
--   total_tokens_used      INT64    sum of metadata.tokens_used over those (missing or malformed = 0)
--   total_llm_cost         FLOAT64  total_tokens_used x LLM price per token
--   total_whatsapp_cost    FLOAT64  all messages in the bucket x WhatsApp price per message
--   total_cost             FLOAT64  total_llm_cost + total_whatsapp_cost
--   cost_per_conversation  FLOAT64  total_cost / conversations started in the bucket; null if none
{% import '_macros.sql' as m with context -%}
WITH
  buckets AS (
    {{ m.buckets() }}
  ),
  traffic AS (
    SELECT
      {{ m.bucket('DATE(msg.timestamp, @tz)') }} AS bucket,
      COUNT(*) AS total_messages,
      COUNTIF(msg.sender_type = 'llm') AS total_llm_calls,
      SUM(IF(msg.sender_type = 'llm', {{ m.tokens_used('msg.metadata') }}, 0)) AS total_tokens_used
    FROM messages AS msg
    JOIN conversations AS c ON c.id = msg.conversation_id
    WHERE {{ m.scope('c') }}
      AND {{ m.in_range('msg.timestamp') }}
    GROUP BY bucket
  ),
  started AS (
    SELECT
      {{ m.bucket('DATE(c.started_at, @tz)') }} AS bucket,
      COUNT(*) AS total_conversations
    FROM conversations AS c
    WHERE {{ m.scope('c') }}
      AND {{ m.in_range('c.started_at') }}
    GROUP BY bucket
  ),
  priced AS (
    SELECT
      b.bucket,
      COALESCE(t.total_llm_calls, 0) AS total_llm_calls,
      COALESCE(t.total_tokens_used, 0) AS total_tokens_used,
      COALESCE(t.total_tokens_used, 0) * @llm_price_per_million_tokens / 1000000 AS total_llm_cost,
      COALESCE(t.total_messages, 0) * @whatsapp_price_per_message AS total_whatsapp_cost,
      s.total_conversations
    FROM buckets AS b
    LEFT JOIN traffic AS t ON t.bucket = b.bucket
    LEFT JOIN started AS s ON s.bucket = b.bucket
  )
SELECT
  bucket AS date,
  total_llm_calls,
  total_tokens_used,
  total_llm_cost,
  total_whatsapp_cost,
  total_llm_cost + total_whatsapp_cost AS total_cost,
  SAFE_DIVIDE(total_llm_cost + total_whatsapp_cost, total_conversations) AS cost_per_conversation
FROM priced
ORDER BY date
