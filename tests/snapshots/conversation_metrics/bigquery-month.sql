-- conversation_metrics for bigquery, outlet filter off, by month
WITH buckets AS (
  SELECT DISTINCT
    GREATEST(DATE_TRUNC(d, MONTH), @start_date) AS bucket
  FROM UNNEST(GENERATE_DATE_ARRAY(@start_date, @end_date, INTERVAL '1' DAY)) AS d
), started AS (
  SELECT
    GREATEST(DATE_TRUNC(DATE(c.started_at, @tz), MONTH), @start_date) AS bucket,
    COUNT(*) AS total_conversations,
    COUNTIF(c.status = 'active') AS active_conversations,
    COUNTIF(c.status = 'resolved') AS resolved_conversations,
    COUNTIF(c.status = 'handed_off') AS handed_off_conversations,
    AVG(TIMESTAMP_DIFF(c.ended_at, c.started_at, MICROSECOND)) / 60000000 AS average_duration_minutes
  FROM conversations AS c
  WHERE
    c.tenant_id = @tenant_id
    AND c.started_at >= @range_start
    AND c.started_at < @range_end
  GROUP BY
    bucket
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
LEFT JOIN started AS s
  ON s.bucket = b.bucket
ORDER BY
  date
