-- cost_metrics for postgres, seed layout, outlet filter off, by day
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
), conversation_aggregates AS (
  SELECT
    CAST(CAST(started_at AS TIMESTAMPTZ) AT TIME ZONE CAST(%(tz)s AS TEXT) AS DATE) AS bucket,
    COUNT(*) AS total_conversations,
    COUNT(CASE WHEN status = 'active' THEN 1 END) AS active_conversations,
    COUNT(CASE WHEN status = 'resolved' THEN 1 END) AS resolved_conversations,
    COUNT(CASE WHEN status = 'handed_off' THEN 1 END) AS handed_off_conversations,
    CAST(AVG(duration_us) AS DOUBLE PRECISION) / 60000000 AS average_duration_minutes,
    COUNT(handoff_at) AS total_handoffs,
    COUNT(CASE WHEN handoff_trigger = 'keyword' THEN 1 END) AS keyword_triggered,
    COUNT(CASE WHEN handoff_trigger = 'confidence' THEN 1 END) AS confidence_triggered,
    CAST(AVG(CAST(EXTRACT(EPOCH FROM handoff_at - started_at) * 1000000 AS BIGINT)) AS DOUBLE PRECISION) / 60000000 AS average_time_to_handoff_minutes
  FROM (
    SELECT
      c.started_at,
      c.status,
      CAST(EXTRACT(EPOCH FROM c.ended_at - c.started_at) * 1000000 AS BIGINT) AS duration_us,
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
          m.metadata #>> '{trigger}' AS handoff_trigger,
          ROW_NUMBER() OVER (
            PARTITION BY m.conversation_id
            ORDER BY m.timestamp NULLS FIRST, m.id COLLATE "C" NULLS FIRST
          ) AS n
        FROM conversation_messages AS m
        WHERE
          m.metadata #>> '{handoff_requested}' = 'true'
      ) AS requests
      WHERE
        n = 1
    ) AS h
      ON h.conversation_id = c.id
    WHERE
      LOWER(c.tenant_id) = CAST(%(tenant_id)s AS TEXT)
      AND c.started_at >= CAST(%(range_start)s AS TIMESTAMPTZ)
      AND c.started_at < CAST(%(range_end)s AS TIMESTAMPTZ)
  ) AS conversation_rows
  GROUP BY
    bucket
)
SELECT
  b.bucket AS date,
  COALESCE(n.llm_messages, 0) AS total_llm_calls,
  COALESCE(n.total_tokens_used, 0) AS total_tokens_used,
  CAST(COALESCE(n.total_tokens_used, 0) * CAST(%(llm_price_per_million_tokens)s AS DOUBLE PRECISION) AS DOUBLE PRECISION) / 1000000 AS total_llm_cost,
  COALESCE(n.total_messages, 0) * CAST(%(whatsapp_price_per_message)s AS DOUBLE PRECISION) AS total_whatsapp_cost,
  CAST(COALESCE(n.total_tokens_used, 0) * CAST(%(llm_price_per_million_tokens)s AS DOUBLE PRECISION) AS DOUBLE PRECISION) / 1000000 + COALESCE(n.total_messages, 0) * CAST(%(whatsapp_price_per_message)s AS DOUBLE PRECISION) AS total_cost,
  CASE
    WHEN c.total_conversations <> 0
    THEN CAST((
      CAST(COALESCE(n.total_tokens_used, 0) * CAST(%(llm_price_per_million_tokens)s AS DOUBLE PRECISION) AS DOUBLE PRECISION) / 1000000 + COALESCE(n.total_messages, 0) * CAST(%(whatsapp_price_per_message)s AS DOUBLE PRECISION)
    ) AS DOUBLE PRECISION) / c.total_conversations
    ELSE NULL
  END AS cost_per_conversation
FROM buckets AS b
LEFT JOIN message_aggregates AS n
  ON n.bucket = b.bucket
LEFT JOIN conversation_aggregates AS c
  ON c.bucket = b.bucket
ORDER BY
  date NULLS FIRST
