-- message_metrics for bigquery, seed layout, outlet filter off, by day
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
), message_aggregates AS (
  SELECT
    DATE(ts, @tz) AS bucket,
    COUNT(*) AS total_messages,
    COUNTIF(sender_type = 'customer') AS customer_messages,
    COUNTIF(sender_type = 'llm') AS llm_messages,
    COUNTIF(sender_type = 'agent') AS agent_messages,
    SUM(IF(sender_type = 'llm', tokens_used, 0)) AS total_tokens_used
  FROM (
    SELECT
      w.timestamp AS ts,
      w.sender_type,
      CASE
        WHEN REGEXP_CONTAINS(JSON_VALUE(w.metadata, '$.tokens_used'), '^[+-]?[0-9]{1,18}$')
        THEN CAST(JSON_VALUE(w.metadata, '$.tokens_used') AS INT64)
        ELSE 0
      END AS tokens_used
    FROM conversation_messages AS w
    WHERE
      w.timestamp >= @range_start
      AND w.timestamp < @range_end
  ) AS message_rows
  GROUP BY
    bucket
), turn_aggregates AS (
  SELECT
    DATE(turn_at, @tz) AS bucket,
    AVG(response_us) / 1000000 AS average_response_time_seconds
  FROM (
    SELECT
      t.turn_at,
      TIMESTAMP_DIFF(t.reply_at, t.turn_at, MICROSECOND) AS response_us
    FROM (
      SELECT
        m.id,
        m.conversation_id,
        m.timestamp AS turn_at,
        m.sender_type = 'customer'
        AND COALESCE(
          LAG(m.sender_type) OVER (PARTITION BY m.conversation_id ORDER BY m.timestamp, CAST(m.id AS BYTES)) <> 'customer',
          TRUE
        ) AS turn_start,
        MIN(IF(m.sender_type IN ('llm', 'agent'), m.timestamp, NULL)) OVER (
          PARTITION BY m.conversation_id
          ORDER BY m.timestamp DESC, CAST(m.id AS BYTES) DESC
          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ) AS reply_at
      FROM conversation_messages AS m
      WHERE
        m.sender_type <> 'system'
    ) AS t
    WHERE
      t.turn_start
      AND t.turn_at >= @range_start
      AND t.turn_at < @range_end
  ) AS turn_rows
  WHERE
    NOT response_us IS NULL
  GROUP BY
    bucket
)
SELECT
  b.bucket AS date,
  COALESCE(n.total_messages, 0) AS total_messages,
  COALESCE(n.customer_messages, 0) AS customer_messages,
  COALESCE(n.llm_messages, 0) AS llm_messages,
  COALESCE(n.agent_messages, 0) AS agent_messages,
  t.average_response_time_seconds
FROM buckets AS b
LEFT JOIN message_aggregates AS n
  ON n.bucket = b.bucket
LEFT JOIN turn_aggregates AS t
  ON t.bucket = b.bucket
ORDER BY
  date
