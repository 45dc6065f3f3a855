-- tenant_summary for bigquery, outlet filter off, by day
WITH handoffs AS (
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
    FROM messages AS m
    JOIN conversations AS c
      ON c.id = m.conversation_id
    WHERE
      c.tenant_id = @tenant_id
      AND c.started_at >= @range_start
      AND c.started_at < @range_end
      AND JSON_VALUE(m.metadata, '$.handoff_requested') = 'true'
  ) AS requests
  WHERE
    n = 1
), started AS (
  SELECT
    COUNT(*) AS total_conversations,
    COUNTIF(c.status = 'resolved') AS resolved_conversations,
    COUNT(h.conversation_id) AS total_handoffs
  FROM conversations AS c
  LEFT JOIN handoffs AS h
    ON h.conversation_id = c.id
  WHERE
    c.tenant_id = @tenant_id
    AND c.started_at >= @range_start
    AND c.started_at < @range_end
), traffic AS (
  SELECT
    COUNT(*) AS total_messages,
    COALESCE(
      SUM(
        IF(
          msg.sender_type = 'llm',
          CASE
            WHEN REGEXP_CONTAINS(JSON_VALUE(msg.metadata, '$.tokens_used'), '^[+-]?[0-9]{1,18}$')
            THEN CAST(JSON_VALUE(msg.metadata, '$.tokens_used') AS INT64)
            ELSE 0
          END,
          0
        )
      ),
      0
    ) AS total_tokens_used
  FROM messages AS msg
  JOIN conversations AS c
    ON c.id = msg.conversation_id
  WHERE
    c.tenant_id = @tenant_id
    AND msg.timestamp >= @range_start
    AND msg.timestamp < @range_end
), turns AS (
  SELECT
    ts AS turn_at,
    reply_at
  FROM (
    SELECT
      m.timestamp AS ts,
      m.sender_type,
      LAG(m.sender_type) OVER (PARTITION BY m.conversation_id ORDER BY m.timestamp, CAST(m.id AS BYTES)) AS previous_sender,
      MIN(IF(m.sender_type IN ('llm', 'agent'), m.timestamp, NULL)) OVER (
        PARTITION BY m.conversation_id
        ORDER BY m.timestamp, CAST(m.id AS BYTES)
        ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING
      ) AS reply_at
    FROM messages AS m
    JOIN conversations AS c
      ON c.id = m.conversation_id
    WHERE
      c.tenant_id = @tenant_id
      AND m.sender_type <> 'system'
      AND m.conversation_id IN (
        SELECT
          r.conversation_id
        FROM messages AS r
        WHERE
          r.sender_type = 'customer'
          AND r.timestamp >= @range_start
          AND r.timestamp < @range_end
      )
  ) AS ordered
  WHERE
    sender_type = 'customer'
    AND (
      previous_sender IS NULL OR previous_sender <> 'customer'
    )
    AND ts >= @range_start
    AND ts < @range_end
), response_times AS (
  SELECT
    AVG(TIMESTAMP_DIFF(reply_at, turn_at, MICROSECOND)) / 1000000 AS average_response_time_seconds
  FROM turns
  WHERE
    NOT reply_at IS NULL
)
SELECT
  s.total_conversations,
  t.total_messages,
  r.average_response_time_seconds,
  SAFE_DIVIDE(s.resolved_conversations, s.total_conversations) AS resolution_rate,
  SAFE_DIVIDE(s.total_handoffs, s.total_conversations) AS handoff_rate,
  t.total_tokens_used * @llm_price_per_million_tokens / 1000000 + t.total_messages * @whatsapp_price_per_message AS total_cost
FROM started AS s
CROSS JOIN traffic AS t
CROSS JOIN response_times AS r
