-- conversation_metrics for postgres, outlet filter on, by week
WITH buckets AS (
  SELECT DISTINCT
    GREATEST(
      CAST(DATE_TRUNC('WEEK', CAST(d AS TIMESTAMP)) AS DATE),
      CAST(%(start_date)s AS DATE)
    ) AS bucket
  FROM (
    SELECT
      CAST(value AS DATE)
    FROM GENERATE_SERIES(
      CAST(CAST(%(start_date)s AS DATE) AS TIMESTAMP),
      CAST(CAST(%(end_date)s AS DATE) AS TIMESTAMP),
      INTERVAL '1 DAY'
    ) AS _t(value)
  ) AS _t0(d)
), started AS (
  SELECT
    GREATEST(
      CAST(DATE_TRUNC(
        'WEEK',
        CAST(CAST(CAST(c.started_at AS TIMESTAMPTZ) AT TIME ZONE CAST(%(tz)s AS TEXT) AS DATE) AS TIMESTAMP)
      ) AS DATE),
      CAST(%(start_date)s AS DATE)
    ) AS bucket,
    COUNT(*) AS total_conversations,
    COUNT(CASE WHEN c.status = 'active' THEN 1 END) AS active_conversations,
    COUNT(CASE WHEN c.status = 'resolved' THEN 1 END) AS resolved_conversations,
    COUNT(CASE WHEN c.status = 'handed_off' THEN 1 END) AS handed_off_conversations,
    CAST(AVG(EXTRACT(EPOCH FROM c.ended_at - c.started_at) * 1000000) AS DOUBLE PRECISION) / 60000000 AS average_duration_minutes
  FROM conversations AS c
  WHERE
    c.tenant_id = CAST(%(tenant_id)s AS TEXT)
    AND c.outlet_id = CAST(%(outlet_id)s AS TEXT)
    AND c.started_at >= CAST(%(range_start)s AS TIMESTAMPTZ)
    AND c.started_at < CAST(%(range_end)s AS TIMESTAMPTZ)
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
  CASE
    WHEN s.total_conversations <> 0
    THEN CAST(s.resolved_conversations AS DOUBLE PRECISION) / s.total_conversations
    ELSE NULL
  END AS resolution_rate
FROM buckets AS b
LEFT JOIN started AS s
  ON s.bucket = b.bucket
ORDER BY
  date NULLS FIRST
