-- message_metrics for postgres, outlet filter off, by day
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
), counts AS (
  SELECT
    CAST(CAST(msg.timestamp AS TIMESTAMPTZ) AT TIME ZONE CAST(%(tz)s AS TEXT) AS DATE) AS bucket,
    COUNT(*) AS total_messages,
    COUNT(CASE WHEN msg.sender_type = 'customer' THEN 1 END) AS customer_messages,
    COUNT(CASE WHEN msg.sender_type = 'llm' THEN 1 END) AS llm_messages,
    COUNT(CASE WHEN msg.sender_type = 'agent' THEN 1 END) AS agent_messages
  FROM messages AS msg
  JOIN conversations AS c
    ON c.id = msg.conversation_id
  WHERE
    c.tenant_id = CAST(%(tenant_id)s AS TEXT)
    AND msg.timestamp >= CAST(%(range_start)s AS TIMESTAMPTZ)
    AND msg.timestamp < CAST(%(range_end)s AS TIMESTAMPTZ)
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
      LAG(m.sender_type) OVER (
        PARTITION BY m.conversation_id
        ORDER BY m.timestamp NULLS FIRST, m.id COLLATE "C" NULLS FIRST
      ) AS previous_sender,
      MIN(CASE WHEN m.sender_type IN ('llm', 'agent') THEN m.timestamp ELSE NULL END) OVER (
        PARTITION BY m.conversation_id
        ORDER BY m.timestamp NULLS FIRST, m.id COLLATE "C" NULLS FIRST
        ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING
      ) AS reply_at
    FROM messages AS m
    JOIN conversations AS c
      ON c.id = m.conversation_id
    WHERE
      c.tenant_id = CAST(%(tenant_id)s AS TEXT)
      AND m.sender_type <> 'system'
      AND m.conversation_id IN (
        SELECT
          r.conversation_id
        FROM messages AS r
        WHERE
          r.sender_type = 'customer'
          AND r.timestamp >= CAST(%(range_start)s AS TIMESTAMPTZ)
          AND r.timestamp < CAST(%(range_end)s AS TIMESTAMPTZ)
      )
  ) AS ordered
  WHERE
    sender_type = 'customer'
    AND (
      previous_sender IS NULL OR previous_sender <> 'customer'
    )
    AND ts >= CAST(%(range_start)s AS TIMESTAMPTZ)
    AND ts < CAST(%(range_end)s AS TIMESTAMPTZ)
), response_times AS (
  SELECT
    CAST(CAST(turn_at AS TIMESTAMPTZ) AT TIME ZONE CAST(%(tz)s AS TEXT) AS DATE) AS bucket,
    CAST(AVG(EXTRACT(EPOCH FROM reply_at - turn_at) * 1000000) AS DOUBLE PRECISION) / 1000000 AS average_response_time_seconds
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
  date NULLS FIRST
