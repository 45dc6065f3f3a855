-- handoff_metrics for bigquery, outlet filter off, by day
WITH buckets AS (
  SELECT DISTINCT
    d AS bucket
  FROM UNNEST(GENERATE_DATE_ARRAY(@start_date, @end_date, INTERVAL '1' DAY)) AS d
), handoffs AS (
  SELECT
    conversation_id,
    handoff_at,
    handoff_trigger
  FROM (
    SELECT
      m.conversation_id,
      m.timestamp AS handoff_at,
      JSON_VALUE(m.metadata, '$.trigger') AS handoff_trigger,
      ROW_NUMBER() OVER (PARTITION BY m.conversation_id ORDER BY m.timestamp, CAST(m.id AS BYTES)) AS n
    FROM messages AS m
    JOIN conversations AS c
      ON c.id = m.conversation_id
    WHERE
      c.tenant_id = @tenant_id
      AND c.started_at >= @range_start
      AND c.started_at < @range_end
      AND JSON_VALUE(m.metadata, '$.handoff_requested') = 'true'
  ) AS requests
  WHERE
    n = 1
), cohort AS (
  SELECT
    DATE(c.started_at, @tz) AS bucket,
    COUNT(*) AS total_conversations,
    COUNT(h.conversation_id) AS total_handoffs,
    COUNTIF(h.handoff_trigger = 'keyword') AS keyword_triggered,
    COUNTIF(h.handoff_trigger = 'confidence') AS confidence_triggered,
    AVG(TIMESTAMP_DIFF(h.handoff_at, c.started_at, MICROSECOND)) / 60000000 AS average_time_to_handoff_minutes
  FROM conversations AS c
  LEFT JOIN handoffs AS h
    ON h.conversation_id = c.id
  WHERE
    c.tenant_id = @tenant_id
    AND c.started_at >= @range_start
    AND c.started_at < @range_end
  GROUP BY
    bucket
)
SELECT
  b.bucket AS date,
  COALESCE(h.total_handoffs, 0) AS total_handoffs,
  COALESCE(h.keyword_triggered, 0) AS keyword_triggered,
  COALESCE(h.confidence_triggered, 0) AS confidence_triggered,
  h.average_time_to_handoff_minutes,
  SAFE_DIVIDE(h.total_handoffs, h.total_conversations) AS handoff_rate
FROM buckets AS b
LEFT JOIN cohort AS h
  ON h.bucket = b.bucket
ORDER BY
  date
