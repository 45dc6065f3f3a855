-- summary for bigquery, seed layout, outlet filter off, by range
WITH window_conversations AS (
  SELECT
    s.id AS conversation_id
  FROM conversations AS s
  WHERE
    LOWER(s.tenant_id) = @tenant_id
    AND s.started_at >= @range_start
    AND s.started_at < @range_end
  UNION DISTINCT
  SELECT
    c.id AS conversation_id
  FROM messages AS msg
  JOIN conversations AS c
    ON c.id = msg.conversation_id
  WHERE
    LOWER(c.tenant_id) = @tenant_id
    AND msg.timestamp >= @range_start
    AND msg.timestamp < @range_end
), conversation_messages AS (
  SELECT
    m.id,
    m.conversation_id,
    m.timestamp,
    m.sender_type,
    m.metadata
  FROM messages AS m
  WHERE
    m.conversation_id IN (
      SELECT
        v.conversation_id
      FROM window_conversations AS v
    )
), conversation_aggregates AS (
  SELECT
    @start_date AS bucket,
    COUNT(*) AS total_conversations,
    COUNTIF(status = 'active') AS active_conversations,
    COUNTIF(status = 'resolved') AS resolved_conversations,
    COUNTIF(status = 'handed_off') AS handed_off_conversations,
    AVG(duration_us) / 60000000 AS average_duration_minutes,
    COUNT(handoff_at) AS total_handoffs,
    COUNTIF(handoff_trigger = 'keyword') AS keyword_triggered,
    COUNTIF(handoff_trigger = 'confidence') AS confidence_triggered,
    AVG(TIMESTAMP_DIFF(handoff_at, started_at, MICROSECOND)) / 60000000 AS average_time_to_handoff_minutes
  FROM (
    SELECT
      c.started_at,
      c.status,
      TIMESTAMP_DIFF(c.ended_at, c.started_at, MICROSECOND) AS duration_us,
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
          JSON_VALUE(m.metadata, '$.trigger') AS handoff_trigger,
          ROW_NUMBER() OVER (PARTITION BY m.conversation_id ORDER BY m.timestamp, CAST(m.id AS BYTES)) AS n
        FROM conversation_messages AS m
        WHERE
          JSON_VALUE(m.metadata, '$.handoff_requested') = 'true'
      ) AS requests
      WHERE
        n = 1
    ) AS h
      ON h.conversation_id = c.id
    WHERE
      LOWER(c.tenant_id) = @tenant_id
      AND c.started_at >= @range_start
      AND c.started_at < @range_end
  ) AS conversation_rows
  GROUP BY
    bucket
), message_aggregates AS (
  SELECT
    @start_date AS bucket,
    COUNT(*) AS total_messages,
    COUNTIF(sender_type = 'customer') AS customer_messages,
    COUNTIF(sender_type = 'llm') AS llm_messages,
    COUNTIF(sender_type = 'agent') AS agent_messages,
    SUM(IF(sender_type = 'llm', tokens_used, 0)) AS total_tokens_used
  FROM (
    SELECT
      w.timestamp AS ts,
      w.sender_type,
      CASE
        WHEN REGEXP_CONTAINS(JSON_VALUE(w.metadata, '$.tokens_used'), '^[+-]?[0-9]{1,18}$')
        THEN CAST(JSON_VALUE(w.metadata, '$.tokens_used') AS INT64)
        ELSE 0
      END AS tokens_used
    FROM conversation_messages AS w
    WHERE
      w.timestamp >= @range_start
      AND w.timestamp < @range_end
  ) AS message_rows
  GROUP BY
    bucket
), turn_aggregates AS (
  SELECT
    @start_date AS bucket,
    AVG(response_us) / 1000000 AS average_response_time_seconds
  FROM (
    SELECT
      t.turn_at,
      TIMESTAMP_DIFF(t.reply_at, t.turn_at, MICROSECOND) AS response_us
    FROM (
      SELECT
        m.id,
        m.conversation_id,
        m.timestamp AS turn_at,
        m.sender_type = 'customer'
        AND COALESCE(
          LAG(m.sender_type) OVER (PARTITION BY m.conversation_id ORDER BY m.timestamp, CAST(m.id AS BYTES)) <> 'customer',
          TRUE
        ) AS turn_start,
        MIN(IF(m.sender_type IN ('llm', 'agent'), m.timestamp, NULL)) OVER (
          PARTITION BY m.conversation_id
          ORDER BY m.timestamp DESC, CAST(m.id AS BYTES) DESC
          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ) AS reply_at
      FROM conversation_messages AS m
      WHERE
        m.sender_type <> 'system'
    ) AS t
    WHERE
      t.turn_start
      AND t.turn_at >= @range_start
      AND t.turn_at < @range_end
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
  SAFE_DIVIDE(c.resolved_conversations, c.total_conversations) AS resolution_rate,
  SAFE_DIVIDE(c.total_handoffs, c.total_conversations) AS handoff_rate,
  COALESCE(n.total_tokens_used, 0) * @llm_price_per_million_tokens / 1000000 + COALESCE(n.total_messages, 0) * @whatsapp_price_per_message AS total_cost
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
