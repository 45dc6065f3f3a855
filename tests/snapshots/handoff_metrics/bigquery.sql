-- handoff_metrics for bigquery, seed layout, outlet filter off, by day
WITH window_conversations AS (
  SELECT
    s.id AS conversation_id
  FROM conversations AS s
  WHERE
    LOWER(s.tenant_id) = @tenant_id
    AND s.started_at >= @range_start
    AND s.started_at < @range_end
  UNION DISTINCT
  SELECT
    c.id AS conversation_id
  FROM messages AS msg
  JOIN conversations AS c
    ON c.id = msg.conversation_id
  WHERE
    LOWER(c.tenant_id) = @tenant_id
    AND msg.timestamp >= @range_start
    AND msg.timestamp < @range_end
), conversation_messages AS (
  SELECT
    m.id,
    m.conversation_id,
    m.timestamp,
    m.sender_type,
    m.metadata
  FROM messages AS m
  WHERE
    m.conversation_id IN (
      SELECT
        v.conversation_id
      FROM window_conversations AS v
    )
), buckets AS (
  SELECT
    d AS bucket
  FROM UNNEST(GENERATE_DATE_ARRAY(@start_date, @end_date, INTERVAL '1' DAY)) AS d
), conversation_aggregates AS (
  SELECT
    DATE(started_at, @tz) AS bucket,
    COUNT(*) AS total_conversations,
    COUNTIF(status = 'active') AS active_conversations,
    COUNTIF(status = 'resolved') AS resolved_conversations,
    COUNTIF(status = 'handed_off') AS handed_off_conversations,
    AVG(duration_us) / 60000000 AS average_duration_minutes,
    COUNT(handoff_at) AS total_handoffs,
    COUNTIF(handoff_trigger = 'keyword') AS keyword_triggered,
    COUNTIF(handoff_trigger = 'confidence') AS confidence_triggered,
    AVG(TIMESTAMP_DIFF(handoff_at, started_at, MICROSECOND)) / 60000000 AS average_time_to_handoff_minutes
  FROM (
    SELECT
      c.started_at,
      c.status,
      TIMESTAMP_DIFF(c.ended_at, c.started_at, MICROSECOND) AS duration_us,
      h.handoff_at,
      h.handoff_trigger
    FROM conversations AS c
    LEFT JOIN (
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
        FROM conversation_messages AS m
        WHERE
          JSON_VALUE(m.metadata, '$.handoff_requested') = 'true'
      ) AS requests
      WHERE
        n = 1
    ) AS h
      ON h.conversation_id = c.id
    WHERE
      LOWER(c.tenant_id) = @tenant_id
      AND c.started_at >= @range_start
      AND c.started_at < @range_end
  ) AS conversation_rows
  GROUP BY
    bucket
)
SELECT
  b.bucket AS date,
  COALESCE(c.total_handoffs, 0) AS total_handoffs,
  COALESCE(c.keyword_triggered, 0) AS keyword_triggered,
  COALESCE(c.confidence_triggered, 0) AS confidence_triggered,
  c.average_time_to_handoff_minutes,
  SAFE_DIVIDE(c.total_handoffs, c.total_conversations) AS handoff_rate
FROM buckets AS b
LEFT JOIN conversation_aggregates AS c
  ON c.bucket = b.bucket
ORDER BY
  date
