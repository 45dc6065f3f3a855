-- cost_metrics for bigquery, seed layout, outlet filter off, by day
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
), buckets AS (
  SELECT
    d AS bucket
  FROM UNNEST(GENERATE_DATE_ARRAY(@start_date, @end_date, INTERVAL '1' DAY)) AS d
), message_aggregates AS (
  SELECT
    DATE(ts, @tz) AS bucket,
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
), conversation_aggregates AS (
  SELECT
    DATE(started_at, @tz) AS bucket,
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
)
SELECT
  b.bucket AS date,
  COALESCE(n.llm_messages, 0) AS total_llm_calls,
  COALESCE(n.total_tokens_used, 0) AS total_tokens_used,
  COALESCE(n.total_tokens_used, 0) * @llm_price_per_million_tokens / 1000000 AS total_llm_cost,
  COALESCE(n.total_messages, 0) * @whatsapp_price_per_message AS total_whatsapp_cost,
  COALESCE(n.total_tokens_used, 0) * @llm_price_per_million_tokens / 1000000 + COALESCE(n.total_messages, 0) * @whatsapp_price_per_message AS total_cost,
  SAFE_DIVIDE(
    COALESCE(n.total_tokens_used, 0) * @llm_price_per_million_tokens / 1000000 + COALESCE(n.total_messages, 0) * @whatsapp_price_per_message,
    c.total_conversations
  ) AS cost_per_conversation
FROM buckets AS b
LEFT JOIN message_aggregates AS n
  ON n.bucket = b.bucket
LEFT JOIN conversation_aggregates AS c
  ON c.bucket = b.bucket
ORDER BY
  date
