-- name: conversation_metrics
-- table: Conversation metrics, the dashboard's "conversations" series.
-- grain: one row per bucket (day, ISO week from Monday, or month; the first and last bucket
--   clipped to the range) of each conversation's start, in the request's timezone. Every bucket
--   of the range appears, in date order; empty buckets have zero counts and null rates.
-- params:
--   tenant_id    STRING     the tenant whose conversations are read
--   outlet_id    STRING     only conversations of this outlet (only when the outlet filter is on)
--   start_date   DATE       first local date of the range, inclusive
--   end_date     DATE       last local date of the range, inclusive
--   tz           STRING     IANA timezone in which days are cut
--   range_start  TIMESTAMP  start_date 00:00 in tz, as an instant
--   range_end    TIMESTAMP  (end_date + 1 day) 00:00 in tz, as an instant
-- columns:
--   date                      DATE     first date of the bucket
--   total_conversations       INT64    conversations started in the bucket
--   active_conversations      INT64    of those, current status = 'active'
--   resolved_conversations    INT64    of those, current status = 'resolved'
--   handed_off_conversations  INT64    of those, current status = 'handed_off'
--   average_duration_minutes  FLOAT64  mean of (ended_at - started_at) in fractional minutes, over those with ended_at; null if none
--   resolution_rate           FLOAT64  resolved_conversations / total_conversations; null if no conversations
{% import '_macros.sql' as m with context -%}
WITH
  buckets AS (
    {{ m.buckets() }}
  ),
  started AS (
    SELECT
      {{ m.bucket('DATE(c.started_at, @tz)') }} AS bucket,
      COUNT(*) AS total_conversations,
      COUNTIF(c.status = 'active') AS active_conversations,
      COUNTIF(c.status = 'resolved') AS resolved_conversations,
      COUNTIF(c.status = 'handed_off') AS handed_off_conversations,
      AVG(TIMESTAMP_DIFF(c.ended_at, c.started_at, MICROSECOND)) / 60000000 AS average_duration_minutes
    FROM conversations AS c
    WHERE {{ m.scope('c') }}
      AND {{ m.in_range('c.started_at') }}
    GROUP BY bucket
  )
SELECT
  b.bucket AS date,
  COALESCE(s.total_conversations, 0) AS total_conversations,
  COALESCE(s.active_conversations, 0) AS active_conversations,
  COALESCE(s.resolved_conversations, 0) AS resolved_conversations,
  COALESCE(s.handed_off_conversations, 0) AS handed_off_conversations,
  s.average_duration_minutes,
  SAFE_DIVIDE(s.resolved_conversations, s.total_conversations) AS resolution_rate
FROM buckets AS b
LEFT JOIN started AS s ON s.bucket = b.bucket
ORDER BY date
