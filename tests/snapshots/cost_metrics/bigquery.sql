-- cost_metrics for bigquery, outlet filter off, by day
WITH buckets AS (
  SELECT DISTINCT
    d AS bucket
  FROM UNNEST(GENERATE_DATE_ARRAY(@start_date, @end_date, INTERVAL '1' DAY)) AS d
), traffic AS (
  SELECT
    DATE(msg.timestamp, @tz) AS bucket,
    COUNT(*) AS total_messages,
    COUNTIF(msg.sender_type = 'llm') AS total_llm_calls,
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
    ) AS total_tokens_used
  FROM messages AS msg
  JOIN conversations AS c
    ON c.id = msg.conversation_id
  WHERE
    c.tenant_id = @tenant_id
    AND msg.timestamp >= @range_start
    AND msg.timestamp < @range_end
  GROUP BY
    bucket
), started AS (
  SELECT
    DATE(c.started_at, @tz) AS bucket,
    COUNT(*) AS total_conversations
  FROM conversations AS c
  WHERE
    c.tenant_id = @tenant_id
    AND c.started_at >= @range_start
    AND c.started_at < @range_end
  GROUP BY
    bucket
), priced AS (
  SELECT
    b.bucket,
    COALESCE(t.total_llm_calls, 0) AS total_llm_calls,
    COALESCE(t.total_tokens_used, 0) AS total_tokens_used,
    COALESCE(t.total_tokens_used, 0) * @llm_price_per_million_tokens / 1000000 AS total_llm_cost,
    COALESCE(t.total_messages, 0) * @whatsapp_price_per_message AS total_whatsapp_cost,
    s.total_conversations
  FROM buckets AS b
  LEFT JOIN traffic AS t
    ON t.bucket = b.bucket
  LEFT JOIN started AS s
    ON s.bucket = b.bucket
)
SELECT
  bucket AS date,
  total_llm_calls,
  total_tokens_used,
  total_llm_cost,
  total_whatsapp_cost,
  total_llm_cost + total_whatsapp_cost AS total_cost,
  SAFE_DIVIDE(total_llm_cost + total_whatsapp_cost, total_conversations) AS cost_per_conversation
FROM priced
ORDER BY
  date
