-- message_metrics for bigquery, outlet filter off, by day
WITH buckets AS (
  SELECT DISTINCT
    d AS bucket
  FROM UNNEST(GENERATE_DATE_ARRAY(@start_date, @end_date, INTERVAL '1' DAY)) AS d
), counts AS (
  SELECT
    DATE(msg.timestamp, @tz) AS bucket,
    COUNT(*) AS total_messages,
    COUNTIF(msg.sender_type = 'customer') AS customer_messages,
    COUNTIF(msg.sender_type = 'llm') AS llm_messages,
    COUNTIF(msg.sender_type = 'agent') AS agent_messages
  FROM messages AS msg
  JOIN conversations AS c
    ON c.id = msg.conversation_id
  WHERE
    c.tenant_id = @tenant_id
    AND msg.timestamp >= @range_start
    AND msg.timestamp < @range_end
  GROUP BY
    bucket
), turns AS (
  SELECT
    ts AS turn_at,
    reply_at
  FROM (
    SELECT
      m.timestamp AS ts,
      m.sender_type,
      LAG(m.sender_type) OVER (PARTITION BY m.conversation_id ORDER BY m.timestamp, CAST(m.id AS BYTES)) AS previous_sender,
      MIN(IF(m.sender_type IN ('llm', 'agent'), m.timestamp, NULL)) OVER (
        PARTITION BY m.conversation_id
        ORDER BY m.timestamp, CAST(m.id AS BYTES)
        ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING
      ) AS reply_at
    FROM messages AS m
    JOIN conversations AS c
      ON c.id = m.conversation_id
    WHERE
      c.tenant_id = @tenant_id
      AND m.sender_type <> 'system'
      AND m.conversation_id IN (
        SELECT
          r.conversation_id
        FROM messages AS r
        WHERE
          r.sender_type = 'customer'
          AND r.timestamp >= @range_start
          AND r.timestamp < @range_end
      )
  ) AS ordered
  WHERE
    sender_type = 'customer'
    AND (
      previous_sender IS NULL OR previous_sender <> 'customer'
    )
    AND ts >= @range_start
    AND ts < @range_end
), response_times AS (
  SELECT
    DATE(turn_at, @tz) AS bucket,
    AVG(TIMESTAMP_DIFF(reply_at, turn_at, MICROSECOND)) / 1000000 AS average_response_time_seconds
  FROM turns
  WHERE
    NOT reply_at IS NULL
  GROUP BY
    bucket
)
SELECT
  b.bucket AS date,
  COALESCE(n.total_messages, 0) AS total_messages,
  COALESCE(n.customer_messages, 0) AS customer_messages,
  COALESCE(n.llm_messages, 0) AS llm_messages,
  COALESCE(n.agent_messages, 0) AS agent_messages,
  r.average_response_time_seconds
FROM buckets AS b
LEFT JOIN counts AS n
  ON n.bucket = b.bucket
LEFT JOIN response_times AS r
  ON r.bucket = b.bucket
ORDER BY
  date
