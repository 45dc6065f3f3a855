-- message_metrics for postgres, seed layout, outlet filter off, by day
WITH window_conversations AS (
  SELECT
    s.id AS conversation_id
  FROM conversations AS s
  WHERE
    LOWER(s.tenant_id) = CAST(%(tenant_id)s AS TEXT)
    AND s.started_at >= CAST(%(range_start)s AS TIMESTAMPTZ)
    AND s.started_at < CAST(%(range_end)s AS TIMESTAMPTZ)
  UNION
  SELECT
    c.id AS conversation_id
  FROM messages AS msg
  JOIN conversations AS c
    ON c.id = msg.conversation_id
  WHERE
    LOWER(c.tenant_id) = CAST(%(tenant_id)s AS TEXT)
    AND msg.timestamp >= CAST(%(range_start)s AS TIMESTAMPTZ)
    AND msg.timestamp < CAST(%(range_end)s AS TIMESTAMPTZ)
), conversation_messages AS (
  SELECT
    m.id,
    m.conversation_id,
    m.timestamp,
    m.sender_type,
    m.metadata
  FROM window_conversations AS v
  CROSS JOIN LATERAL (
    SELECT
      m.id,
      m.conversation_id,
      m.timestamp,
      m.sender_type,
      m.metadata
    FROM messages AS m
    WHERE
      m.conversation_id = v.conversation_id
    OFFSET 0
  ) AS m
), buckets AS (
  SELECT
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
), message_aggregates AS (
  SELECT
    CAST(CAST(ts AS TIMESTAMPTZ) AT TIME ZONE CAST(%(tz)s AS TEXT) AS DATE) AS bucket,
    COUNT(*) AS total_messages,
    COUNT(CASE WHEN sender_type = 'customer' THEN 1 END) AS customer_messages,
    COUNT(CASE WHEN sender_type = 'llm' THEN 1 END) AS llm_messages,
    COUNT(CASE WHEN sender_type = 'agent' THEN 1 END) AS agent_messages,
    SUM(CASE WHEN sender_type = 'llm' THEN tokens_used ELSE 0 END) AS total_tokens_used
  FROM (
    SELECT
      w.timestamp AS ts,
      w.sender_type,
      CASE
        WHEN w.metadata #>> '{tokens_used}' ~ '^[+-]?[0-9]{1,18}$'
        THEN CAST(w.metadata #>> '{tokens_used}' AS BIGINT)
        ELSE 0
      END AS tokens_used
    FROM conversation_messages AS w
    WHERE
      w.timestamp >= CAST(%(range_start)s AS TIMESTAMPTZ)
      AND w.timestamp < CAST(%(range_end)s AS TIMESTAMPTZ)
  ) AS message_rows
  GROUP BY
    bucket
), turn_aggregates AS (
  SELECT
    CAST(CAST(turn_at AS TIMESTAMPTZ) AT TIME ZONE CAST(%(tz)s AS TEXT) AS DATE) AS bucket,
    CAST(AVG(response_us) AS DOUBLE PRECISION) / 1000000 AS average_response_time_seconds
  FROM (
    SELECT
      t.turn_at,
      CAST(EXTRACT(EPOCH FROM t.reply_at - t.turn_at) * 1000000 AS BIGINT) AS response_us
    FROM (
      SELECT
        m.id,
        m.conversation_id,
        m.timestamp AS turn_at,
        m.sender_type = 'customer'
        AND COALESCE(
          LAG(m.sender_type) OVER (
            PARTITION BY m.conversation_id
            ORDER BY m.timestamp NULLS FIRST, m.id COLLATE "C" NULLS FIRST
          ) <> 'customer',
          TRUE
        ) AS turn_start,
        MIN(CASE WHEN m.sender_type IN ('llm', 'agent') THEN m.timestamp ELSE NULL END) OVER (
          PARTITION BY m.conversation_id
          ORDER BY m.timestamp DESC NULLS LAST, m.id COLLATE "C" DESC NULLS LAST
          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ) AS reply_at
      FROM conversation_messages AS m
      WHERE
        m.sender_type <> 'system'
    ) AS t
    WHERE
      t.turn_start
      AND t.turn_at >= CAST(%(range_start)s AS TIMESTAMPTZ)
      AND t.turn_at < CAST(%(range_end)s AS TIMESTAMPTZ)
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
  date NULLS FIRST
