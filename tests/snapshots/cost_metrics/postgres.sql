-- cost_metrics for postgres, outlet filter off, by day
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
), traffic AS (
  SELECT
    CAST(CAST(msg.timestamp AS TIMESTAMPTZ) AT TIME ZONE CAST(%(tz)s AS TEXT) AS DATE) AS bucket,
    COUNT(*) AS total_messages,
    COUNT(CASE WHEN msg.sender_type = 'llm' THEN 1 END) AS total_llm_calls,
    SUM(
      CASE
        WHEN msg.sender_type = 'llm'
        THEN CASE
          WHEN msg.metadata #>> '{tokens_used}' ~ '^[+-]?[0-9]{1,18}$'
          THEN CAST(msg.metadata #>> '{tokens_used}' AS BIGINT)
          ELSE 0
        END
        ELSE 0
      END
    ) AS total_tokens_used
  FROM messages AS msg
  JOIN conversations AS c
    ON c.id = msg.conversation_id
  WHERE
    c.tenant_id = CAST(%(tenant_id)s AS TEXT)
    AND msg.timestamp >= CAST(%(range_start)s AS TIMESTAMPTZ)
    AND msg.timestamp < CAST(%(range_end)s AS TIMESTAMPTZ)
  GROUP BY
    bucket
), started AS (
  SELECT
    CAST(CAST(c.started_at AS TIMESTAMPTZ) AT TIME ZONE CAST(%(tz)s AS TEXT) AS DATE) AS bucket,
    COUNT(*) AS total_conversations
  FROM conversations AS c
  WHERE
    c.tenant_id = CAST(%(tenant_id)s AS TEXT)
    AND c.started_at >= CAST(%(range_start)s AS TIMESTAMPTZ)
    AND c.started_at < CAST(%(range_end)s AS TIMESTAMPTZ)
  GROUP BY
    bucket
), priced AS (
  SELECT
    b.bucket,
    COALESCE(t.total_llm_calls, 0) AS total_llm_calls,
    COALESCE(t.total_tokens_used, 0) AS total_tokens_used,
    CAST(COALESCE(t.total_tokens_used, 0) * CAST(%(llm_price_per_million_tokens)s AS DOUBLE PRECISION) AS DOUBLE PRECISION) / 1000000 AS total_llm_cost,
    COALESCE(t.total_messages, 0) * CAST(%(whatsapp_price_per_message)s AS DOUBLE PRECISION) AS total_whatsapp_cost,
    s.total_conversations
  FROM buckets AS b
  LEFT JOIN traffic AS t
    ON t.bucket = b.bucket
  LEFT JOIN started AS s
    ON s.bucket = b.bucket
)
SELECT
  bucket AS date,
  total_llm_calls,
  total_tokens_used,
  total_llm_cost,
  total_whatsapp_cost,
  total_llm_cost + total_whatsapp_cost AS total_cost,
  CASE
    WHEN total_conversations <> 0
    THEN CAST((
      total_llm_cost + total_whatsapp_cost
    ) AS DOUBLE PRECISION) / total_conversations
    ELSE NULL
  END AS cost_per_conversation
FROM priced
ORDER BY
  date NULLS FIRST
