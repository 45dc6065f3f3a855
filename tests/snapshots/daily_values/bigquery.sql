-- daily_values for bigquery, seed layout, outlet filter off, by day
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
), cohort_aggregates AS (
  SELECT
    DATE(started_at, @tz) AS bucket,
    COUNT(*) AS total_conversations,
    COUNTIF(status = 'resolved') AS resolved_conversations,
    COUNT(handoff_at) AS total_handoffs,
    COUNTIF(status = 'resolved' AND handoff_at IS NULL AND agent_messages = 0) AS contained_conversations
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
  GROUP BY
    bucket
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
), turn_aggregates AS (
  SELECT
    DATE(turn_at, @tz) AS bucket,
    COUNT(*) AS answered_turns,
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
  b.bucket AS date,
  COALESCE(c.total_conversations, 0) AS total_conversations,
  COALESCE(c.resolved_conversations, 0) AS resolved_conversations,
  SAFE_DIVIDE(c.resolved_conversations, c.total_conversations) AS resolution_rate,
  COALESCE(c.total_handoffs, 0) AS total_handoffs,
  SAFE_DIVIDE(c.total_handoffs, c.total_conversations) AS handoff_rate,
  COALESCE(c.contained_conversations, 0) AS contained_conversations,
  SAFE_DIVIDE(c.contained_conversations, c.total_conversations) AS containment_rate,
  COALESCE(n.total_messages, 0) AS total_messages,
  COALESCE(t.answered_turns, 0) AS answered_turns,
  t.average_response_time_seconds,
  COALESCE(n.total_tokens_used, 0) * @llm_price_per_million_tokens / 1000000 + COALESCE(n.total_messages, 0) * @whatsapp_price_per_message AS total_cost
FROM buckets AS b
LEFT JOIN cohort_aggregates AS c
  ON c.bucket = b.bucket
LEFT JOIN message_aggregates AS n
  ON n.bucket = b.bucket
LEFT JOIN turn_aggregates AS t
  ON t.bucket = b.bucket
ORDER BY
  date
