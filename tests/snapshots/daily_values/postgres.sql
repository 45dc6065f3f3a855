-- daily_values for postgres, seed layout, outlet filter off, by day
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
), cohort_aggregates AS (
  SELECT
    CAST(CAST(started_at AS TIMESTAMPTZ) AT TIME ZONE CAST(%(tz)s AS TEXT) AS DATE) AS bucket,
    COUNT(*) AS total_conversations,
    COUNT(CASE WHEN status = 'resolved' THEN 1 END) AS resolved_conversations,
    COUNT(handoff_at) AS total_handoffs,
    COUNT(
      CASE
        WHEN status = 'resolved' AND handoff_at IS NULL AND agent_messages = 0
        THEN 1
      END
    ) AS contained_conversations
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
  GROUP BY
    bucket
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
    COUNT(*) AS answered_turns,
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
  COALESCE(c.total_conversations, 0) AS total_conversations,
  COALESCE(c.resolved_conversations, 0) AS resolved_conversations,
  CASE
    WHEN c.total_conversations <> 0
    THEN CAST(c.resolved_conversations AS DOUBLE PRECISION) / c.total_conversations
    ELSE NULL
  END AS resolution_rate,
  COALESCE(c.total_handoffs, 0) AS total_handoffs,
  CASE
    WHEN c.total_conversations <> 0
    THEN CAST(c.total_handoffs AS DOUBLE PRECISION) / c.total_conversations
    ELSE NULL
  END AS handoff_rate,
  COALESCE(c.contained_conversations, 0) AS contained_conversations,
  CASE
    WHEN c.total_conversations <> 0
    THEN CAST(c.contained_conversations AS DOUBLE PRECISION) / c.total_conversations
    ELSE NULL
  END AS containment_rate,
  COALESCE(n.total_messages, 0) AS total_messages,
  COALESCE(t.answered_turns, 0) AS answered_turns,
  t.average_response_time_seconds,
  CAST(COALESCE(n.total_tokens_used, 0) * CAST(%(llm_price_per_million_tokens)s AS DOUBLE PRECISION) AS DOUBLE PRECISION) / 1000000 + COALESCE(n.total_messages, 0) * CAST(%(whatsapp_price_per_message)s AS DOUBLE PRECISION) AS total_cost
FROM buckets AS b
LEFT JOIN cohort_aggregates AS c
  ON c.bucket = b.bucket
LEFT JOIN message_aggregates AS n
  ON n.bucket = b.bucket
LEFT JOIN turn_aggregates AS t
  ON t.bucket = b.bucket
ORDER BY
  date NULLS FIRST
