-- handoff_metrics for postgres, outlet filter off, by day
WITH buckets AS (
  SELECT DISTINCT
    d AS bucket
  FROM (
    SELECT
      CAST(value AS DATE)
    FROM GENERATE_SERIES(
      CAST(CAST(%(start_date)s AS DATE) AS TIMESTAMP),
      CAST(CAST(%(end_date)s AS DATE) AS TIMESTAMP),
      INTERVAL '1 DAY'
    ) AS _t(value)
  ) AS _t0(d)
), handoffs AS (
  SELECT
    conversation_id,
    handoff_at,
    handoff_trigger
  FROM (
    SELECT
      m.conversation_id,
      m.timestamp AS handoff_at,
      m.metadata #>> '{trigger}' AS handoff_trigger,
      ROW_NUMBER() OVER (
        PARTITION BY m.conversation_id
        ORDER BY m.timestamp NULLS FIRST, m.id COLLATE "C" NULLS FIRST
      ) AS n
    FROM messages AS m
    JOIN conversations AS c
      ON c.id = m.conversation_id
    WHERE
      c.tenant_id = CAST(%(tenant_id)s AS TEXT)
      AND c.started_at >= CAST(%(range_start)s AS TIMESTAMPTZ)
      AND c.started_at < CAST(%(range_end)s AS TIMESTAMPTZ)
      AND m.metadata #>> '{handoff_requested}' = 'true'
  ) AS requests
  WHERE
    n = 1
), cohort AS (
  SELECT
    CAST(CAST(c.started_at AS TIMESTAMPTZ) AT TIME ZONE CAST(%(tz)s AS TEXT) AS DATE) AS bucket,
    COUNT(*) AS total_conversations,
    COUNT(h.conversation_id) AS total_handoffs,
    COUNT(CASE WHEN h.handoff_trigger = 'keyword' THEN 1 END) AS keyword_triggered,
    COUNT(CASE WHEN h.handoff_trigger = 'confidence' THEN 1 END) AS confidence_triggered,
    CAST(AVG(EXTRACT(EPOCH FROM h.handoff_at - c.started_at) * 1000000) AS DOUBLE PRECISION) / 60000000 AS average_time_to_handoff_minutes
  FROM conversations AS c
  LEFT JOIN handoffs AS h
    ON h.conversation_id = c.id
  WHERE
    c.tenant_id = CAST(%(tenant_id)s AS TEXT)
    AND c.started_at >= CAST(%(range_start)s AS TIMESTAMPTZ)
    AND c.started_at < CAST(%(range_end)s AS TIMESTAMPTZ)
  GROUP BY
    bucket
)
SELECT
  b.bucket AS date,
  COALESCE(h.total_handoffs, 0) AS total_handoffs,
  COALESCE(h.keyword_triggered, 0) AS keyword_triggered,
  COALESCE(h.confidence_triggered, 0) AS confidence_triggered,
  h.average_time_to_handoff_minutes,
  CASE
    WHEN h.total_conversations <> 0
    THEN CAST(h.total_handoffs AS DOUBLE PRECISION) / h.total_conversations
    ELSE NULL
  END AS handoff_rate
FROM buckets AS b
LEFT JOIN cohort AS h
  ON h.bucket = b.bucket
ORDER BY
  date NULLS FIRST
