-- tenant_summary for postgres, outlet filter off, by day
WITH handoffs AS (
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
), started AS (
  SELECT
    COUNT(*) AS total_conversations,
    COUNT(CASE WHEN c.status = 'resolved' THEN 1 END) AS resolved_conversations,
    COUNT(h.conversation_id) AS total_handoffs
  FROM conversations AS c
  LEFT JOIN handoffs AS h
    ON h.conversation_id = c.id
  WHERE
    c.tenant_id = CAST(%(tenant_id)s AS TEXT)
    AND c.started_at >= CAST(%(range_start)s AS TIMESTAMPTZ)
    AND c.started_at < CAST(%(range_end)s AS TIMESTAMPTZ)
), traffic AS (
  SELECT
    COUNT(*) AS total_messages,
    COALESCE(
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
      ),
      0
    ) AS total_tokens_used
  FROM messages AS msg
  JOIN conversations AS c
    ON c.id = msg.conversation_id
  WHERE
    c.tenant_id = CAST(%(tenant_id)s AS TEXT)
    AND msg.timestamp >= CAST(%(range_start)s AS TIMESTAMPTZ)
    AND msg.timestamp < CAST(%(range_end)s AS TIMESTAMPTZ)
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
    CAST(AVG(EXTRACT(EPOCH FROM reply_at - turn_at) * 1000000) AS DOUBLE PRECISION) / 1000000 AS average_response_time_seconds
  FROM turns
  WHERE
    NOT reply_at IS NULL
)
SELECT
  s.total_conversations,
  t.total_messages,
  r.average_response_time_seconds,
  CASE
    WHEN s.total_conversations <> 0
    THEN CAST(s.resolved_conversations AS DOUBLE PRECISION) / s.total_conversations
    ELSE NULL
  END AS resolution_rate,
  CASE
    WHEN s.total_conversations <> 0
    THEN CAST(s.total_handoffs AS DOUBLE PRECISION) / s.total_conversations
    ELSE NULL
  END AS handoff_rate,
  CAST(t.total_tokens_used * CAST(%(llm_price_per_million_tokens)s AS DOUBLE PRECISION) AS DOUBLE PRECISION) / 1000000 + t.total_messages * CAST(%(whatsapp_price_per_message)s AS DOUBLE PRECISION) AS total_cost
FROM started AS s
CROSS JOIN traffic AS t
CROSS JOIN response_times AS r
