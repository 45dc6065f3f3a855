-- outlets for postgres, seed layout, outlet filter off, by range
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
), activity AS (
  SELECT
    LOWER(c.outlet_id) AS outlet_id,
    1 AS conversations,
    CASE WHEN c.status = 'resolved' THEN 1 ELSE 0 END AS resolved_conversations,
    CASE WHEN h.conversation_id IS NULL THEN 0 ELSE 1 END AS handoffs,
    0 AS messages,
    0 AS llm_tokens,
    0 AS replied_turns,
    0 AS response_us
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
  UNION ALL
  SELECT
    LOWER(c.outlet_id),
    0,
    0,
    0,
    1,
    CASE
      WHEN msg.sender_type = 'llm'
      THEN CASE
        WHEN msg.metadata #>> '{tokens_used}' ~ '^[+-]?[0-9]{1,18}$'
        THEN CAST(msg.metadata #>> '{tokens_used}' AS BIGINT)
        ELSE 0
      END
      ELSE 0
    END,
    0,
    0
  FROM conversation_messages AS msg
  JOIN conversations AS c
    ON c.id = msg.conversation_id
  WHERE
    LOWER(c.tenant_id) = CAST(%(tenant_id)s AS TEXT)
    AND msg.timestamp >= CAST(%(range_start)s AS TIMESTAMPTZ)
    AND msg.timestamp < CAST(%(range_end)s AS TIMESTAMPTZ)
  UNION ALL
  SELECT
    LOWER(c.outlet_id),
    0,
    0,
    0,
    0,
    0,
    1,
    CAST(EXTRACT(EPOCH FROM t.reply_at - t.turn_at) * 1000000 AS BIGINT)
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
  JOIN conversations AS c
    ON c.id = t.conversation_id
  WHERE
    t.turn_start
    AND NOT t.reply_at IS NULL
    AND t.turn_at >= CAST(%(range_start)s AS TIMESTAMPTZ)
    AND t.turn_at < CAST(%(range_end)s AS TIMESTAMPTZ)
    AND LOWER(c.tenant_id) = CAST(%(tenant_id)s AS TEXT)
), sums AS (
  SELECT
    outlet_id,
    SUM(conversations) AS conversations,
    SUM(resolved_conversations) AS resolved_conversations,
    SUM(handoffs) AS handoffs,
    SUM(messages) AS messages,
    SUM(llm_tokens) AS llm_tokens,
    SUM(replied_turns) AS replied_turns,
    SUM(response_us) AS response_us
  FROM activity
  GROUP BY
    outlet_id
)
SELECT
  outlet_id,
  conversations AS total_conversations,
  messages AS total_messages,
  CAST(CASE
    WHEN replied_turns <> 0
    THEN CAST(response_us AS DOUBLE PRECISION) / replied_turns
    ELSE NULL
  END AS DOUBLE PRECISION) / 1000000 AS average_response_time_seconds,
  CASE
    WHEN conversations <> 0
    THEN CAST(resolved_conversations AS DOUBLE PRECISION) / conversations
    ELSE NULL
  END AS resolution_rate,
  CASE
    WHEN conversations <> 0
    THEN CAST(handoffs AS DOUBLE PRECISION) / conversations
    ELSE NULL
  END AS handoff_rate,
  CAST(llm_tokens * CAST(%(llm_price_per_million_tokens)s AS DOUBLE PRECISION) AS DOUBLE PRECISION) / 1000000 + messages * CAST(%(whatsapp_price_per_message)s AS DOUBLE PRECISION) AS total_cost
FROM sums
ORDER BY
  outlet_id COLLATE "C"
