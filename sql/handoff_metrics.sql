-- name: handoff_metrics
-- table: Handoff metrics, the dashboard's "handoffs" series.
-- grain: one row per bucket (day, ISO week from Monday, or month; the first and last bucket
--   clipped to the range) of each conversation's start, in the request's timezone: the same
--   cohort as the conversation metrics. Every bucket of the range appears, in date order.
--   A conversation is handed off when any of its messages has metadata.handoff_requested
--   true (JSON true or the string "true"); it counts once, with the time and trigger of its
--   earliest such message, which may fall outside the range.
-- params:
--   tenant_id    STRING     the tenant whose conversations are read
--   outlet_id    STRING     only conversations of this outlet (only when the outlet filter is on)
--   start_date   DATE       first local date of the range, inclusive
--   end_date     DATE       last local date of the range, inclusive
--   tz           STRING     IANA timezone in which days are cut
--   range_start  TIMESTAMP  start_date 00:00 in tz, as an instant
--   range_end    TIMESTAMP  (end_date + 1 day) 00:00 in tz, as an instant
-- columns:
--   date                             DATE     first date of the bucket
--   total_handoffs                   INT64    handed-off conversations started in the bucket
--   keyword_triggered                INT64    of those, trigger = 'keyword'
--   confidence_triggered             INT64    of those, trigger = 'confidence'
--   average_time_to_handoff_minutes  FLOAT64  mean of (handoff time - started_at) in fractional minutes; null if none
--   handoff_rate                     FLOAT64  total_handoffs / conversations started in the bucket; null if none
{% import '_macros.sql' as m with context -%}
WITH
  buckets AS (
    {{ m.buckets() }}
  ),
  handoffs AS (
    {{ m.first_handoffs() }}
  ),
  cohort AS (
    SELECT
      {{ m.bucket('DATE(c.started_at, @tz)') }} AS bucket,
      COUNT(*) AS total_conversations,
      COUNT(h.conversation_id) AS total_handoffs,
      COUNTIF(h.handoff_trigger = 'keyword') AS keyword_triggered,
      COUNTIF(h.handoff_trigger = 'confidence') AS confidence_triggered,
      AVG(TIMESTAMP_DIFF(h.handoff_at, c.started_at, MICROSECOND)) / 60000000 AS average_time_to_handoff_minutes
    FROM conversations AS c
    LEFT JOIN handoffs AS h ON h.conversation_id = c.id
    WHERE {{ m.scope('c') }}
      AND {{ m.in_range('c.started_at') }}
    GROUP BY bucket
  )
SELECT
  b.bucket AS date,
  COALESCE(h.total_handoffs, 0) AS total_handoffs,
  COALESCE(h.keyword_triggered, 0) AS keyword_triggered,
  COALESCE(h.confidence_triggered, 0) AS confidence_triggered,
  h.average_time_to_handoff_minutes,
  SAFE_DIVIDE(h.total_handoffs, h.total_conversations) AS handoff_rate
FROM buckets AS b
LEFT JOIN cohort AS h ON h.bucket = b.bucket
ORDER BY date
