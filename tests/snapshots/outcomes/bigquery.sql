-- outcomes for bigquery, seed layout, outlet filter off, by day
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
), figures AS (
  SELECT
    bucket,
    COUNT(conversation) AS total_conversations,
    COUNTIF(status = 'resolved' AND handoff_at IS NULL AND agent_messages = 0) AS contained_conversations,
    COUNTIF(agent_messages > 0) AS agent_involved_conversations,
    COUNTIF(status = 'resolved') AS resolved_conversations,
    SUM(messages) AS cohort_messages,
    SUM(llm_tokens) AS cohort_tokens
  FROM (
    SELECT
      DATE(started_at, @tz) AS bucket,
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
        TIMESTAMP_DIFF(o.first_response_at, c.started_at, MICROSECOND) AS first_response_us,
        TIMESTAMP_DIFF(o.human_response_at, h.handoff_at, MICROSECOND) AS human_response_us
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
      LEFT JOIN (
        SELECT
          o.conversation_id,
          COUNT(*) AS messages,
          COUNTIF(o.sender_type = 'agent') AS agent_messages,
          SUM(IF(o.sender_type = 'llm', o.tokens_used, 0)) AS llm_tokens,
          MIN(IF(o.sender_type IN ('llm', 'agent'), o.timestamp, NULL)) AS first_response_at,
          MIN(IF(o.sender_type = 'agent' AND o.after_handoff = 1, o.timestamp, NULL)) AS human_response_at
        FROM (
          SELECT
            m.conversation_id,
            m.sender_type,
            m.timestamp,
            CASE
              WHEN REGEXP_CONTAINS(JSON_VALUE(m.metadata, '$.tokens_used'), '^[+-]?[0-9]{1,18}$')
              THEN CAST(JSON_VALUE(m.metadata, '$.tokens_used') AS INT64)
              ELSE 0
            END AS tokens_used,
            MAX(IF(JSON_VALUE(m.metadata, '$.handoff_requested') = 'true', 1, 0)) OVER (
              PARTITION BY m.conversation_id
              ORDER BY m.timestamp, CAST(m.id AS BYTES)
              ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
            ) AS after_handoff
          FROM conversation_messages AS m
        ) AS o
        GROUP BY
          o.conversation_id
      ) AS o
        ON o.conversation_id = c.id
      WHERE
        LOWER(c.tenant_id) = @tenant_id
        AND c.started_at >= @range_start
        AND c.started_at < @range_end
    ) AS cohort_rows
    UNION ALL
    SELECT
      bucket,
      NULL,
      CAST(NULL AS STRING),
      CAST(NULL AS TIMESTAMP),
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
  SAFE_DIVIDE(s.contained_conversations, s.total_conversations) AS containment_rate,
  COALESCE(s.agent_involved_conversations, 0) AS agent_involved_conversations,
  COALESCE(s.cohort_messages, 0) AS cohort_messages,
  COALESCE(s.cohort_tokens, 0) * @llm_price_per_million_tokens / 1000000 + COALESCE(s.cohort_messages, 0) * @whatsapp_price_per_message AS cohort_cost,
  SAFE_DIVIDE(
    COALESCE(s.cohort_tokens, 0) * @llm_price_per_million_tokens / 1000000 + COALESCE(s.cohort_messages, 0) * @whatsapp_price_per_message,
    s.resolved_conversations
  ) AS cost_per_resolved_conversation,
  SAFE_DIVIDE(s.cohort_messages, s.total_conversations) AS messages_per_conversation
FROM figures AS s
ORDER BY
  date
