-- conversation_metrics for duckdb, outlet filter on, by week
WITH buckets AS (
  SELECT DISTINCT
    CASE
      WHEN CAST(DATE_TRUNC('WEEK', d) AS DATE) IS NULL
      OR CAST($start_date AS DATE) IS NULL
      THEN NULL
      ELSE GREATEST(CAST(DATE_TRUNC('WEEK', d) AS DATE), CAST($start_date AS DATE))
    END AS bucket
  FROM UNNEST(CAST(GENERATE_SERIES(
    CAST($start_date AS DATE),
    CAST($end_date AS DATE),
    INTERVAL '1' DAY
  ) AS DATE[])) AS _t0(d)
), started AS (
  SELECT
    CASE
      WHEN CAST(DATE_TRUNC(
        'WEEK',
        CAST(CAST(c.started_at AS TIMESTAMPTZ) AT TIME ZONE CAST($tz AS TEXT) AS DATE)
      ) AS DATE) IS NULL
      OR CAST($start_date AS DATE) IS NULL
      THEN NULL
      ELSE GREATEST(
        CAST(DATE_TRUNC(
          'WEEK',
          CAST(CAST(c.started_at AS TIMESTAMPTZ) AT TIME ZONE CAST($tz AS TEXT) AS DATE)
        ) AS DATE),
        CAST($start_date AS DATE)
      )
    END AS bucket,
    COUNT(*) AS total_conversations,
    COUNT(CASE WHEN c.status = 'active' THEN 1 END) AS active_conversations,
    COUNT(CASE WHEN c.status = 'resolved' THEN 1 END) AS resolved_conversations,
    COUNT(CASE WHEN c.status = 'handed_off' THEN 1 END) AS handed_off_conversations,
    AVG(DATE_DIFF('MICROSECOND', c.started_at, c.ended_at)) / 60000000 AS average_duration_minutes
  FROM conversations AS c
  WHERE
    c.tenant_id = CAST($tenant_id AS TEXT)
    AND c.outlet_id = CAST($outlet_id AS TEXT)
    AND c.started_at >= CAST($range_start AS TIMESTAMPTZ)
    AND c.started_at < CAST($range_end AS TIMESTAMPTZ)
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
    THEN s.resolved_conversations / s.total_conversations
    ELSE NULL
  END AS resolution_rate
FROM buckets AS b
LEFT JOIN started AS s
  ON s.bucket = b.bucket
ORDER BY
  date NULLS FIRST
