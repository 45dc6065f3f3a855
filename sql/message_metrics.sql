-- name: message_metrics
-- table: Message metrics, the dashboard's "messages" series.
-- grain: one row per bucket (day, ISO week from Monday, or month; the first and last bucket
--   clipped to the range) of each message's timestamp, in the request's timezone. Every bucket
--   of the range appears, in date order; empty buckets have zero counts and a null average.
--   Messages belong to the tenant (and outlet) of their conversation.
-- params:
--   tenant_id    STRING     the tenant whose messages are read
--   outlet_id    STRING     only messages of this outlet's conversations (only when the outlet filter is on)
--   start_date   DATE       first local date of the range, inclusive
--   end_date     DATE       last local date of the range, inclusive
--   tz           STRING     IANA timezone in which days are cut
--   range_start  TIMESTAMP  start_date 00:00 in tz, as an instant
--   range_end    TIMESTAMP  (end_date + 1 day) 00:00 in tz, as an instant
-- columns:
--   date                           DATE     first date of the bucket
--   total_messages                 INT64    all messages in the bucket, of any sender type
--   customer_messages              INT64    of those, sender_type = 'customer'
--   llm_messages                   INT64    of those, sender_type = 'llm'
--   agent_messages                 INT64    of those, sender_type = 'agent'
--   average_response_time_seconds  FLOAT64  mean seconds from the start of a customer turn that starts in the bucket to its first later 'llm' or 'agent' message (which may fall after the range); turns without a reply are left out; null if none
{% import '_macros.sql' as m with context -%}
WITH
  buckets AS (
    {{ m.buckets() }}
  ),
  counts AS (
    SELECT
      {{ m.bucket('DATE(msg.timestamp, @tz)') }} AS bucket,
      COUNT(*) AS total_messages,
      COUNTIF(msg.sender_type = 'customer') AS customer_messages,
      COUNTIF(msg.sender_type = 'llm') AS llm_messages,
      COUNTIF(msg.sender_type = 'agent') AS agent_messages
    FROM messages AS msg
    JOIN conversations AS c ON c.id = msg.conversation_id
    WHERE {{ m.scope('c') }}
      AND {{ m.in_range('msg.timestamp') }}
    GROUP BY bucket
  ),
  turns AS (
    {{ m.customer_turns() }}
  ),
  response_times AS (
    SELECT
      {{ m.bucket('DATE(turn_at, @tz)') }} AS bucket,
      AVG(TIMESTAMP_DIFF(reply_at, turn_at, MICROSECOND)) / 1000000 AS average_response_time_seconds
    FROM turns
    WHERE reply_at IS NOT NULL
    GROUP BY bucket
  )
SELECT
  b.bucket AS date,
  COALESCE(n.total_messages, 0) AS total_messages,
  COALESCE(n.customer_messages, 0) AS customer_messages,
  COALESCE(n.llm_messages, 0) AS llm_messages,
  COALESCE(n.agent_messages, 0) AS agent_messages,
  r.average_response_time_seconds
FROM buckets AS b
LEFT JOIN counts AS n ON n.bucket = b.bucket
LEFT JOIN response_times AS r ON r.bucket = b.bucket
ORDER BY date
