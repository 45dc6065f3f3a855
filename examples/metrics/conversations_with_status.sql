-- name: conversations_with_status
-- table: Conversations started per bucket that are now in one status (the request names it):
--   how many of each day's conversations are still active, say, or were handed off.
-- grain: one row per bucket of the range (dense: 0 for a bucket without any), in date order;
--   buckets in the request's timezone, by day, ISO week or month.
-- granularities: day week month
-- params:
--   tenant_id     STRING     the tenant whose conversations are counted
--   outlet_id     STRING     only this outlet's conversations (when the request names one)
--   start_date    DATE       the first local date of the range
--   end_date      DATE       the last local date of the range
--   tz            STRING     IANA timezone that cuts the days
--   range_start   TIMESTAMP  start_date 00:00 in tz, as an instant
--   range_end     TIMESTAMP  (end_date + 1 day) 00:00 in tz, as an instant
--   status        STRING     the status counted, matched exactly (active, resolved, handed_off, ...)
-- columns:
--   date             DATE     the bucket, labelled by its first date (clipped to the range)
--   conversations    INT64    conversations started in the bucket whose status is now @status
{% import 'macros/custom.sql' as crm with context -%}
SELECT b.bucket AS date, COUNT(c.id) AS conversations
FROM ({{ crm.buckets() }}) AS b
LEFT JOIN (
  SELECT {{ crm.bucket_of('started.started_at') }} AS bucket, started.id
  FROM ({{ crm.conversations() }}) AS started
  WHERE started.status = @status
) AS c ON c.bucket = b.bucket
GROUP BY b.bucket
ORDER BY date
