-- tenant_summary for duckdb, outlet filter off, by day
WITH handoffs AS (
  SELECT
    conversation_id,
    handoff_at,
    handoff_trigger
  FROM (
    SELECT
      m.conversation_id,
      m.timestamp AS handoff_at,
      m.metadata ->> '$.trigger' AS handoff_trigger,
      ROW_NUMBER() OVER (PARTITION BY m.conversation_id ORDER BY m.timestamp NULLS FIRST, m.id NULLS FIRST) AS n
    FROM messages AS m
    JOIN conversations AS c
      ON c.id = m.conversation_id
    WHERE
      c.tenant_id = CAST($tenant_id AS TEXT)
      AND c.started_at >= CAST($range_start AS TIMESTAMPTZ)
      AND c.started_at < CAST($range_end AS TIMESTAMPTZ)
      AND (
        m.metadata ->> '$.handoff_requested'
      ) = 'true'
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
    c.tenant_id = CAST($tenant_id AS TEXT)
    AND c.started_at >= CAST($range_start AS TIMESTAMPTZ)
    AND c.started_at < CAST($range_end AS TIMESTAMPTZ)
), traffic AS (
  SELECT
    COUNT(*) AS total_messages,
    COALESCE(
      SUM(
        CASE
          WHEN msg.sender_type = 'llm'
          THEN CASE
            WHEN REGEXP_MATCHES((
              msg.metadata ->> '$.tokens_used'
            ), '^[+-]?[0-9]{1,18}$')
            THEN CAST(msg.metadata ->> '$.tokens_used' AS BIGINT)
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
    c.tenant_id = CAST($tenant_id AS TEXT)
    AND msg.timestamp >= CAST($range_start AS TIMESTAMPTZ)
    AND msg.timestamp < CAST($range_end AS TIMESTAMPTZ)
), turns AS (
  SELECT
    ts AS turn_at,
    reply_at
  FROM (
    SELECT
      m.timestamp AS ts,
      m.sender_type,
      LAG(m.sender_type) OVER (PARTITION BY m.conversation_id ORDER BY m.timestamp NULLS FIRST, m.id NULLS FIRST) AS previous_sender,
      MIN(CASE WHEN m.sender_type IN ('llm', 'agent') THEN m.timestamp ELSE NULL END) OVER (
        PARTITION BY m.conversation_id
        ORDER BY m.timestamp NULLS FIRST, m.id NULLS FIRST
        ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING
      ) AS reply_at
    FROM messages AS m
    JOIN conversations AS c
      ON c.id = m.conversation_id
    WHERE
      c.tenant_id = CAST($tenant_id AS TEXT)
      AND m.sender_type <> 'system'
      AND m.conversation_id IN (
        SELECT
          r.conversation_id
        FROM messages AS r
        WHERE
          r.sender_type = 'customer'
          AND r.timestamp >= CAST($range_start AS TIMESTAMPTZ)
          AND r.timestamp < CAST($range_end AS TIMESTAMPTZ)
      )
  ) AS ordered
  WHERE
    sender_type = 'customer'
    AND (
      previous_sender IS NULL OR previous_sender <> 'customer'
    )
    AND ts >= CAST($range_start AS TIMESTAMPTZ)
    AND ts < CAST($range_end AS TIMESTAMPTZ)
), response_times AS (
  SELECT
    AVG(DATE_DIFF('MICROSECOND', turn_at, reply_at)) / 1000000 AS average_response_time_seconds
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
    THEN s.resolved_conversations / s.total_conversations
    ELSE NULL
  END AS resolution_rate,
  CASE
    WHEN s.total_conversations <> 0
    THEN s.total_handoffs / s.total_conversations
    ELSE NULL
  END AS handoff_rate,
  t.total_tokens_used * CAST($llm_price_per_million_tokens AS DOUBLE) / 1000000 + t.total_messages * CAST($whatsapp_price_per_message AS DOUBLE) AS total_cost
FROM started AS s
CROSS JOIN traffic AS t
CROSS JOIN response_times AS r
