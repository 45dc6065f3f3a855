-- outcomes for postgres, seed layout, outlet filter off, by day
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
), figures AS (
  SELECT
    bucket,
    COUNT(conversation) AS total_conversations,
    COUNT(
      CASE
        WHEN status = 'resolved' AND handoff_at IS NULL AND agent_messages = 0
        THEN 1
      END
    ) AS contained_conversations,
    COUNT(CASE WHEN agent_messages > 0 THEN 1 END) AS agent_involved_conversations,
    COUNT(CASE WHEN status = 'resolved' THEN 1 END) AS resolved_conversations,
    SUM(messages) AS cohort_messages,
    SUM(llm_tokens) AS cohort_tokens
  FROM (
    SELECT
      CAST(CAST(started_at AS TIMESTAMPTZ) AT TIME ZONE CAST(%(tz)s AS TEXT) AS DATE) AS bucket,
      1 AS conversation,
      status,
      handoff_at,
      messages,
      agent_messages,
      llm_tokens
    FROM (
      SELECT
        c.started_at,
        c.status,
        h.handoff_at,
        COALESCE(o.messages, 0) AS messages,
        COALESCE(o.agent_messages, 0) AS agent_messages,
        COALESCE(o.llm_tokens, 0) AS llm_tokens,
        CAST(EXTRACT(EPOCH FROM o.first_response_at - c.started_at) * 1000000 AS BIGINT) AS first_response_us,
        CAST(EXTRACT(EPOCH FROM o.human_response_at - h.handoff_at) * 1000000 AS BIGINT) AS human_response_us
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
      LEFT JOIN (
        SELECT
          o.conversation_id,
          COUNT(*) AS messages,
          COUNT(CASE WHEN o.sender_type = 'agent' THEN 1 END) AS agent_messages,
          SUM(CASE WHEN o.sender_type = 'llm' THEN o.tokens_used ELSE 0 END) AS llm_tokens,
          MIN(CASE WHEN o.sender_type IN ('llm', 'agent') THEN o.timestamp ELSE NULL END) AS first_response_at,
          MIN(
            CASE
              WHEN o.sender_type = 'agent' AND o.after_handoff = 1
              THEN o.timestamp
              ELSE NULL
            END
          ) AS human_response_at
        FROM (
          SELECT
            m.conversation_id,
            m.sender_type,
            m.timestamp,
            CASE
              WHEN m.metadata #>> '{tokens_used}' ~ '^[+-]?[0-9]{1,18}$'
              THEN CAST(m.metadata #>> '{tokens_used}' AS BIGINT)
              ELSE 0
            END AS tokens_used,
            MAX(CASE WHEN m.metadata #>> '{handoff_requested}' = 'true' THEN 1 ELSE 0 END) OVER (
              PARTITION BY m.conversation_id
              ORDER BY m.timestamp NULLS FIRST, m.id COLLATE "C" NULLS FIRST
              ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
            ) AS after_handoff
          FROM conversation_messages AS m
        ) AS o
        GROUP BY
          o.conversation_id
      ) AS o
        ON o.conversation_id = c.id
      WHERE
        LOWER(c.tenant_id) = CAST(%(tenant_id)s AS TEXT)
        AND c.started_at >= CAST(%(range_start)s AS TIMESTAMPTZ)
        AND c.started_at < CAST(%(range_end)s AS TIMESTAMPTZ)
    ) AS cohort_rows
    UNION ALL
    SELECT
      bucket,
      NULL,
      CAST(NULL AS TEXT),
      CAST(NULL AS TIMESTAMPTZ),
      0,
      0,
      0
    FROM buckets
  ) AS cohort
  GROUP BY
    ROLLUP (
      bucket
    )
)
SELECT
  s.bucket AS date,
  COALESCE(s.total_conversations, 0) AS total_conversations,
  COALESCE(s.contained_conversations, 0) AS contained_conversations,
  CASE
    WHEN s.total_conversations <> 0
    THEN CAST(s.contained_conversations AS DOUBLE PRECISION) / s.total_conversations
    ELSE NULL
  END AS containment_rate,
  COALESCE(s.agent_involved_conversations, 0) AS agent_involved_conversations,
  COALESCE(s.cohort_messages, 0) AS cohort_messages,
  CAST(COALESCE(s.cohort_tokens, 0) * CAST(%(llm_price_per_million_tokens)s AS DOUBLE PRECISION) AS DOUBLE PRECISION) / 1000000 + COALESCE(s.cohort_messages, 0) * CAST(%(whatsapp_price_per_message)s AS DOUBLE PRECISION) AS cohort_cost,
  CASE
    WHEN s.resolved_conversations <> 0
    THEN CAST((
      CAST(COALESCE(s.cohort_tokens, 0) * CAST(%(llm_price_per_million_tokens)s AS DOUBLE PRECISION) AS DOUBLE PRECISION) / 1000000 + COALESCE(s.cohort_messages, 0) * CAST(%(whatsapp_price_per_message)s AS DOUBLE PRECISION)
    ) AS DOUBLE PRECISION) / s.resolved_conversations
    ELSE NULL
  END AS cost_per_resolved_conversation,
  CASE
    WHEN s.total_conversations <> 0
    THEN CAST(s.cohort_messages AS DOUBLE PRECISION) / s.total_conversations
    ELSE NULL
  END AS messages_per_conversation
FROM figures AS s
ORDER BY
  date NULLS FIRST
