-- outlets for bigquery, seed layout, outlet filter off, by range
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
), activity AS (
  SELECT
    LOWER(c.outlet_id) AS outlet_id,
    1 AS conversations,
    IF(c.status = 'resolved', 1, 0) AS resolved_conversations,
    IF(h.conversation_id IS NULL, 0, 1) AS handoffs,
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
  UNION ALL
  SELECT
    LOWER(c.outlet_id),
    0,
    0,
    0,
    1,
    IF(
      msg.sender_type = 'llm',
      CASE
        WHEN REGEXP_CONTAINS(JSON_VALUE(msg.metadata, '$.tokens_used'), '^[+-]?[0-9]{1,18}$')
        THEN CAST(JSON_VALUE(msg.metadata, '$.tokens_used') AS INT64)
        ELSE 0
      END,
      0
    ),
    0,
    0
  FROM conversation_messages AS msg
  JOIN conversations AS c
    ON c.id = msg.conversation_id
  WHERE
    LOWER(c.tenant_id) = @tenant_id
    AND msg.timestamp >= @range_start
    AND msg.timestamp < @range_end
  UNION ALL
  SELECT
    LOWER(c.outlet_id),
    0,
    0,
    0,
    0,
    0,
    1,
    TIMESTAMP_DIFF(t.reply_at, t.turn_at, MICROSECOND)
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
  JOIN conversations AS c
    ON c.id = t.conversation_id
  WHERE
    t.turn_start
    AND NOT t.reply_at IS NULL
    AND t.turn_at >= @range_start
    AND t.turn_at < @range_end
    AND LOWER(c.tenant_id) = @tenant_id
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
  SAFE_DIVIDE(response_us, replied_turns) / 1000000 AS average_response_time_seconds,
  SAFE_DIVIDE(resolved_conversations, conversations) AS resolution_rate,
  SAFE_DIVIDE(handoffs, conversations) AS handoff_rate,
  llm_tokens * @llm_price_per_million_tokens / 1000000 + messages * @whatsapp_price_per_message AS total_cost
FROM sums
ORDER BY
  CAST(outlet_id AS BYTES) NULLS LAST
