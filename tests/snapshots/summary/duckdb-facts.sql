-- summary for duckdb, facts layout, outlet filter off, by range
WITH conversation_aggregates AS (
  SELECT
    CAST($start_date AS DATE) AS bucket,
    COUNT(*) AS total_conversations,
    COUNT(CASE WHEN status = 'active' THEN 1 END) AS active_conversations,
    COUNT(CASE WHEN status = 'resolved' THEN 1 END) AS resolved_conversations,
    COUNT(CASE WHEN status = 'handed_off' THEN 1 END) AS handed_off_conversations,
    AVG(duration_us) / 60000000 AS average_duration_minutes,
    COUNT(handoff_at) AS total_handoffs,
    COUNT(CASE WHEN handoff_trigger = 'keyword' THEN 1 END) AS keyword_triggered,
    COUNT(CASE WHEN handoff_trigger = 'confidence' THEN 1 END) AS confidence_triggered,
    AVG(DATE_DIFF('MICROSECOND', started_at, handoff_at)) / 60000000 AS average_time_to_handoff_minutes
  FROM (
    SELECT
      f.started_at,
      f.status,
      f.duration_us,
      f.handoff_at,
      f.handoff_trigger
    FROM conversation_facts AS f
    WHERE
      f.tenant_id = CAST($tenant_id AS TEXT)
      AND f.started_at >= CAST($range_start AS TIMESTAMPTZ)
      AND f.started_at < CAST($range_end AS TIMESTAMPTZ)
  ) AS conversation_rows
  GROUP BY
    bucket
), message_aggregates AS (
  SELECT
    CAST($start_date AS DATE) AS bucket,
    COUNT(*) AS total_messages,
    COUNT(CASE WHEN sender_type = 'customer' THEN 1 END) AS customer_messages,
    COUNT(CASE WHEN sender_type = 'llm' THEN 1 END) AS llm_messages,
    COUNT(CASE WHEN sender_type = 'agent' THEN 1 END) AS agent_messages,
    SUM(CASE WHEN sender_type = 'llm' THEN tokens_used ELSE 0 END) AS total_tokens_used
  FROM (
    SELECT
      f.ts,
      f.sender_type,
      f.tokens_used
    FROM message_facts AS f
    WHERE
      f.tenant_id = CAST($tenant_id AS TEXT)
      AND f.ts >= CAST($range_start AS TIMESTAMPTZ)
      AND f.ts < CAST($range_end AS TIMESTAMPTZ)
  ) AS message_rows
  GROUP BY
    bucket
), turn_aggregates AS (
  SELECT
    CAST($start_date AS DATE) AS bucket,
    AVG(response_us) / 1000000 AS average_response_time_seconds
  FROM (
    SELECT
      f.ts AS turn_at,
      f.response_us
    FROM message_facts AS f
    WHERE
      f.tenant_id = CAST($tenant_id AS TEXT)
      AND f.ts >= CAST($range_start AS TIMESTAMPTZ)
      AND f.ts < CAST($range_end AS TIMESTAMPTZ)
      AND f.turn_start
  ) AS turn_rows
  WHERE
    NOT response_us IS NULL
  GROUP BY
    bucket
)
SELECT
  COALESCE(c.total_conversations, 0) AS total_conversations,
  COALESCE(n.total_messages, 0) AS total_messages,
  t.average_response_time_seconds,
  CASE
    WHEN c.total_conversations <> 0
    THEN c.resolved_conversations / c.total_conversations
    ELSE NULL
  END AS resolution_rate,
  CASE
    WHEN c.total_conversations <> 0
    THEN c.total_handoffs / c.total_conversations
    ELSE NULL
  END AS handoff_rate,
  COALESCE(n.total_tokens_used, 0) * CAST($llm_price_per_million_tokens AS DOUBLE) / 1000000 + COALESCE(n.total_messages, 0) * CAST($whatsapp_price_per_message AS DOUBLE) AS total_cost
FROM (
  SELECT
    1 AS one
) AS range_row
LEFT JOIN conversation_aggregates AS c
  ON TRUE
LEFT JOIN message_aggregates AS n
  ON TRUE
LEFT JOIN turn_aggregates AS t
  ON TRUE
