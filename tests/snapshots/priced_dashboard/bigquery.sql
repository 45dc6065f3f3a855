-- priced_dashboard for bigquery, seed layout, outlet filter off, by day
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
), whatsapp_price_rows AS (
  SELECT
    @whatsapp_lows[ORDINAL(i)] AS low,
    @whatsapp_highs[ORDINAL(i)] AS high,
    @whatsapp_markets[ORDINAL(i)] AS market,
    @whatsapp_categories[ORDINAL(i)] AS category,
    @whatsapp_prices[ORDINAL(i)] AS price,
    @whatsapp_valid_from[ORDINAL(i)] AS valid_from,
    @whatsapp_valid_to[ORDINAL(i)] AS valid_to
  FROM UNNEST(GENERATE_ARRAY(1, ARRAY_LENGTH(@whatsapp_lows))) AS i
), llm_price_rows AS (
  SELECT
    @llm_models[ORDINAL(i)] AS model,
    @llm_input_prices[ORDINAL(i)] AS input_price,
    @llm_output_prices[ORDINAL(i)] AS output_price,
    @llm_valid_from[ORDINAL(i)] AS valid_from,
    @llm_valid_to[ORDINAL(i)] AS valid_to
  FROM UNNEST(GENERATE_ARRAY(1, ARRAY_LENGTH(@llm_models))) AS i
), priced_groups AS (
  SELECT
    DATE(g.bucket_at, @tz) AS bucket,
    g.day,
    g.kind,
    g.phone,
    g.charged,
    g.category,
    g.model,
    COUNT(*) AS messages,
    SUM(g.input_tokens) AS input_tokens,
    SUM(g.output_tokens) AS output_tokens,
    SUM(g.flat_tokens) AS flat_tokens,
    SUM(g.tokens_used) AS tokens_used
  FROM (
    SELECT
      m.bucket_at,
      DATE(m.ts, 'UTC') AS day,
      'whatsapp' AS kind,
      IF(
        COALESCE(JSON_VALUE(m.metadata, '$.pricing.type') = 'regular', FALSE),
        COALESCE(
          IF(STARTS_WITH(m.customer_phone, '+'), SUBSTR(m.customer_phone, 2), m.customer_phone),
          ''
        ),
        NULL
      ) AS phone,
      COALESCE(JSON_VALUE(m.metadata, '$.pricing.type') = 'regular', FALSE) AS charged,
      IF(
        COALESCE(JSON_VALUE(m.metadata, '$.pricing.type') = 'regular', FALSE),
        IF(
          IF(
            STARTS_WITH(TO_JSON_STRING(JSON_QUERY(m.metadata, '$.pricing.category')), '"'),
            'string',
            NULL
          ) = 'string',
          JSON_VALUE(m.metadata, '$.pricing.category'),
          NULL
        ),
        NULL
      ) AS category,
      CAST(NULL AS STRING) AS model,
      0 AS input_tokens,
      0 AS output_tokens,
      0 AS flat_tokens,
      0 AS tokens_used
    FROM (
      SELECT
        msg.timestamp AS bucket_at,
        msg.timestamp AS ts,
        msg.sender_type,
        msg.metadata,
        c.customer_phone
      FROM messages AS msg
      JOIN conversations AS c
        ON c.id = msg.conversation_id
      WHERE
        LOWER(c.tenant_id) = @tenant_id
        AND msg.timestamp >= @range_start
        AND msg.timestamp < @range_end
    ) AS m
    WHERE
      m.sender_type IN ('llm', 'agent', 'system')
    UNION ALL
    SELECT
      m.bucket_at,
      DATE(m.ts, 'UTC'),
      'llm',
      NULL,
      FALSE,
      NULL,
      IF(
        IF(STARTS_WITH(TO_JSON_STRING(JSON_QUERY(m.metadata, '$.model')), '"'), 'string', NULL) = 'string',
        JSON_VALUE(m.metadata, '$.model'),
        NULL
      ),
      CASE
        WHEN REGEXP_CONTAINS(JSON_VALUE(m.metadata, '$.input_tokens'), '^[+-]?[0-9]{1,18}$')
        THEN CAST(JSON_VALUE(m.metadata, '$.input_tokens') AS INT64)
        ELSE 0
      END,
      CASE
        WHEN REGEXP_CONTAINS(JSON_VALUE(m.metadata, '$.output_tokens'), '^[+-]?[0-9]{1,18}$')
        THEN CAST(JSON_VALUE(m.metadata, '$.output_tokens') AS INT64)
        ELSE 0
      END,
      IF(
        COALESCE(
          REGEXP_CONTAINS(JSON_VALUE(m.metadata, '$.input_tokens'), '^[+-]?[0-9]{1,18}$')
          OR REGEXP_CONTAINS(JSON_VALUE(m.metadata, '$.output_tokens'), '^[+-]?[0-9]{1,18}$'),
          FALSE
        ),
        0,
        CASE
          WHEN REGEXP_CONTAINS(JSON_VALUE(m.metadata, '$.tokens_used'), '^[+-]?[0-9]{1,18}$')
          THEN CAST(JSON_VALUE(m.metadata, '$.tokens_used') AS INT64)
          ELSE 0
        END
      ),
      CASE
        WHEN REGEXP_CONTAINS(JSON_VALUE(m.metadata, '$.tokens_used'), '^[+-]?[0-9]{1,18}$')
        THEN CAST(JSON_VALUE(m.metadata, '$.tokens_used') AS INT64)
        ELSE 0
      END
    FROM (
      SELECT
        msg.timestamp AS bucket_at,
        msg.timestamp AS ts,
        msg.sender_type,
        msg.metadata,
        c.customer_phone
      FROM messages AS msg
      JOIN conversations AS c
        ON c.id = msg.conversation_id
      WHERE
        LOWER(c.tenant_id) = @tenant_id
        AND msg.timestamp >= @range_start
        AND msg.timestamp < @range_end
    ) AS m
    WHERE
      m.sender_type = 'llm'
  ) AS g
  GROUP BY
    bucket,
    g.day,
    g.kind,
    g.phone,
    g.charged,
    g.category,
    g.model
), priced_whatsapp_rows AS (
  SELECT
    g.bucket,
    p.market AS prefix,
    g.charged,
    g.category,
    g.messages,
    p.price
  FROM priced_groups AS g
  LEFT JOIN whatsapp_price_rows AS p
    ON g.charged
    AND p.category = g.category
    AND CAST(g.phone AS BYTES) >= CAST(p.low AS BYTES)
    AND (
      p.high = '' OR CAST(g.phone AS BYTES) < CAST(p.high AS BYTES)
    )
    AND p.valid_from <= g.day
    AND g.day < p.valid_to
  WHERE
    g.kind = 'whatsapp'
), priced_whatsapp AS (
  SELECT
    bucket,
    SUM(IF(w.charged, w.messages, 0)) AS whatsapp_charged_messages,
    SUM(IF(w.charged, 0, w.messages)) AS whatsapp_free_messages,
    SUM(IF(w.charged AND w.price IS NULL, w.messages, 0)) AS whatsapp_unpriced_messages,
    SUM(IF(w.category = 'marketing', w.messages * w.price, 0)) AS whatsapp_marketing_cost,
    SUM(IF(w.category = 'utility', w.messages * w.price, 0)) AS whatsapp_utility_cost,
    SUM(IF(w.category = 'authentication', w.messages * w.price, 0)) AS whatsapp_authentication_cost,
    SUM(COALESCE(w.messages * w.price, 0)) AS total_whatsapp_cost
  FROM priced_whatsapp_rows AS w
  GROUP BY
    bucket
), priced_llm_rows AS (
  SELECT
    g.bucket,
    g.messages,
    g.tokens_used,
    g.input_tokens,
    g.output_tokens,
    COALESCE(g.input_tokens * q.input_price + g.output_tokens * q.output_price, 0) / 1000000 + g.flat_tokens * @llm_price_per_million_tokens / 1000000 AS llm_cost
  FROM (
    SELECT
      h.*,
      IF(h.model IN UNNEST(@llm_named_models), h.model, '*') AS priced_model
    FROM priced_groups AS h
    WHERE
      h.kind = 'llm'
  ) AS g
  LEFT JOIN llm_price_rows AS q
    ON g.kind = 'llm'
    AND q.model = g.priced_model
    AND q.valid_from <= g.day
    AND g.day < q.valid_to
), priced_llm AS (
  SELECT
    bucket,
    SUM(l.messages) AS llm_messages,
    SUM(l.tokens_used) AS tokens_used,
    SUM(l.input_tokens) AS input_tokens,
    SUM(l.output_tokens) AS output_tokens,
    SUM(l.llm_cost) AS llm_cost
  FROM priced_llm_rows AS l
  GROUP BY
    bucket
), turn_aggregates AS (
  SELECT
    DATE(turn_at, @tz) AS bucket,
    AVG(response_us) / 1000000 AS average_response_time_seconds,
    COUNT(*) AS answered_turns,
    SUM(response_us) AS response_us
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
  COALESCE(c.active_conversations, 0) AS active_conversations,
  COALESCE(c.resolved_conversations, 0) AS resolved_conversations,
  COALESCE(c.handed_off_conversations, 0) AS handed_off_conversations,
  c.average_duration_minutes,
  SAFE_DIVIDE(c.resolved_conversations, c.total_conversations) AS resolution_rate,
  COALESCE(n.total_messages, 0) AS total_messages,
  COALESCE(n.customer_messages, 0) AS customer_messages,
  COALESCE(n.llm_messages, 0) AS llm_messages,
  COALESCE(n.agent_messages, 0) AS agent_messages,
  t.average_response_time_seconds,
  COALESCE(c.total_handoffs, 0) AS total_handoffs,
  COALESCE(c.keyword_triggered, 0) AS keyword_triggered,
  COALESCE(c.confidence_triggered, 0) AS confidence_triggered,
  c.average_time_to_handoff_minutes,
  SAFE_DIVIDE(c.total_handoffs, c.total_conversations) AS handoff_rate,
  COALESCE(t.answered_turns, 0) AS answered_turns,
  COALESCE(t.response_us, 0) AS response_us,
  COALESCE(l.llm_messages, 0) AS total_llm_calls,
  COALESCE(l.tokens_used, 0) AS total_tokens_used,
  COALESCE(l.input_tokens, 0) AS llm_input_tokens,
  COALESCE(l.output_tokens, 0) AS llm_output_tokens,
  COALESCE(l.llm_cost, 0) AS total_llm_cost,
  COALESCE(w.whatsapp_charged_messages, 0) AS whatsapp_charged_messages,
  COALESCE(w.whatsapp_free_messages, 0) AS whatsapp_free_messages,
  COALESCE(w.whatsapp_unpriced_messages, 0) AS whatsapp_unpriced_messages,
  COALESCE(w.whatsapp_marketing_cost, 0) AS whatsapp_marketing_cost,
  COALESCE(w.whatsapp_utility_cost, 0) AS whatsapp_utility_cost,
  COALESCE(w.whatsapp_authentication_cost, 0) AS whatsapp_authentication_cost,
  COALESCE(w.total_whatsapp_cost, 0) AS total_whatsapp_cost,
  COALESCE(l.llm_cost, 0) + COALESCE(w.total_whatsapp_cost, 0) AS total_cost,
  SAFE_DIVIDE(
    COALESCE(l.llm_cost, 0) + COALESCE(w.total_whatsapp_cost, 0),
    c.total_conversations
  ) AS cost_per_conversation
FROM buckets AS b
LEFT JOIN conversation_aggregates AS c
  ON c.bucket = b.bucket
LEFT JOIN message_aggregates AS n
  ON n.bucket = b.bucket
LEFT JOIN turn_aggregates AS t
  ON t.bucket = b.bucket
LEFT JOIN priced_whatsapp AS w
  ON w.bucket = b.bucket
LEFT JOIN priced_llm AS l
  ON l.bucket = b.bucket
ORDER BY
  date
