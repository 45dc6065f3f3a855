-- costs for postgres, seed layout, outlet filter off, by day
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
), whatsapp_price_rows AS MATERIALIZED (
  SELECT
    (
      CAST(%(whatsapp_lows)s AS TEXT[])
    )[i] AS low,
    (
      CAST(%(whatsapp_highs)s AS TEXT[])
    )[i] AS high,
    (
      CAST(%(whatsapp_markets)s AS TEXT[])
    )[i] AS market,
    (
      CAST(%(whatsapp_categories)s AS TEXT[])
    )[i] AS category,
    (
      CAST(%(whatsapp_prices)s AS DOUBLE PRECISION[])
    )[i] AS price,
    (
      CAST(%(whatsapp_valid_from)s AS DATE[])
    )[i] AS valid_from,
    (
      CAST(%(whatsapp_valid_to)s AS DATE[])
    )[i] AS valid_to
  FROM GENERATE_SERIES(1, ARRAY_LENGTH(CAST(%(whatsapp_lows)s AS TEXT[]), 1)) AS _t0(i)
), llm_price_rows AS MATERIALIZED (
  SELECT
    (
      CAST(%(llm_models)s AS TEXT[])
    )[i] AS model,
    (
      CAST(%(llm_input_prices)s AS DOUBLE PRECISION[])
    )[i] AS input_price,
    (
      CAST(%(llm_output_prices)s AS DOUBLE PRECISION[])
    )[i] AS output_price,
    (
      CAST(%(llm_valid_from)s AS DATE[])
    )[i] AS valid_from,
    (
      CAST(%(llm_valid_to)s AS DATE[])
    )[i] AS valid_to
  FROM GENERATE_SERIES(1, ARRAY_LENGTH(CAST(%(llm_models)s AS TEXT[]), 1)) AS _t1(i)
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
  ) AS _t2(d)
), conversation_aggregates AS (
  SELECT
    CAST(CAST(started_at AS TIMESTAMPTZ) AT TIME ZONE CAST(%(tz)s AS TEXT) AS DATE) AS bucket,
    COUNT(*) AS total_conversations,
    COUNT(CASE WHEN status = 'active' THEN 1 END) AS active_conversations,
    COUNT(CASE WHEN status = 'resolved' THEN 1 END) AS resolved_conversations,
    COUNT(CASE WHEN status = 'handed_off' THEN 1 END) AS handed_off_conversations,
    CAST(AVG(duration_us) AS DOUBLE PRECISION) / 60000000 AS average_duration_minutes,
    COUNT(handoff_at) AS total_handoffs,
    COUNT(CASE WHEN handoff_trigger = 'keyword' THEN 1 END) AS keyword_triggered,
    COUNT(CASE WHEN handoff_trigger = 'confidence' THEN 1 END) AS confidence_triggered,
    CAST(AVG(CAST(EXTRACT(EPOCH FROM handoff_at - started_at) * 1000000 AS BIGINT)) AS DOUBLE PRECISION) / 60000000 AS average_time_to_handoff_minutes
  FROM (
    SELECT
      c.started_at,
      c.status,
      CAST(EXTRACT(EPOCH FROM c.ended_at - c.started_at) * 1000000 AS BIGINT) AS duration_us,
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
    WHERE
      LOWER(c.tenant_id) = CAST(%(tenant_id)s AS TEXT)
      AND c.started_at >= CAST(%(range_start)s AS TIMESTAMPTZ)
      AND c.started_at < CAST(%(range_end)s AS TIMESTAMPTZ)
  ) AS conversation_rows
  GROUP BY
    bucket
), priced_groups AS (
  SELECT
    CAST(CAST(g.bucket_at AS TIMESTAMPTZ) AT TIME ZONE CAST(%(tz)s AS TEXT) AS DATE) AS bucket,
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
      CAST(CAST(m.ts AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS DATE) AS day,
      'whatsapp' AS kind,
      CASE
        WHEN COALESCE(m.metadata #>> '{pricing,type}' = 'regular', FALSE)
        THEN COALESCE(
          CASE
            WHEN STARTS_WITH(m.customer_phone, '+')
            THEN SUBSTRING(m.customer_phone FROM 2)
            ELSE m.customer_phone
          END,
          ''
        )
        ELSE NULL
      END AS phone,
      COALESCE(m.metadata #>> '{pricing,type}' = 'regular', FALSE) AS charged,
      CASE
        WHEN COALESCE(m.metadata #>> '{pricing,type}' = 'regular', FALSE)
        THEN CASE
          WHEN JSONB_TYPEOF(CAST(m.metadata #> '{pricing,category}' AS JSONB)) = 'string'
          THEN m.metadata #>> '{pricing,category}'
          ELSE NULL
        END
        ELSE NULL
      END AS category,
      CAST(NULL AS TEXT) AS model,
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
        LOWER(c.tenant_id) = CAST(%(tenant_id)s AS TEXT)
        AND msg.timestamp >= CAST(%(range_start)s AS TIMESTAMPTZ)
        AND msg.timestamp < CAST(%(range_end)s AS TIMESTAMPTZ)
    ) AS m
    WHERE
      m.sender_type IN ('llm', 'agent', 'system')
    UNION ALL
    SELECT
      m.bucket_at,
      CAST(CAST(m.ts AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS DATE),
      'llm',
      NULL,
      FALSE,
      NULL,
      CASE
        WHEN JSONB_TYPEOF(CAST(m.metadata #> '{model}' AS JSONB)) = 'string'
        THEN m.metadata #>> '{model}'
        ELSE NULL
      END,
      CASE
        WHEN m.metadata #>> '{input_tokens}' ~ '^[+-]?[0-9]{1,18}$'
        THEN CAST(m.metadata #>> '{input_tokens}' AS BIGINT)
        ELSE 0
      END,
      CASE
        WHEN m.metadata #>> '{output_tokens}' ~ '^[+-]?[0-9]{1,18}$'
        THEN CAST(m.metadata #>> '{output_tokens}' AS BIGINT)
        ELSE 0
      END,
      CASE
        WHEN COALESCE(
          m.metadata #>> '{input_tokens}' ~ '^[+-]?[0-9]{1,18}$'
          OR m.metadata #>> '{output_tokens}' ~ '^[+-]?[0-9]{1,18}$',
          FALSE
        )
        THEN 0
        ELSE CASE
          WHEN m.metadata #>> '{tokens_used}' ~ '^[+-]?[0-9]{1,18}$'
          THEN CAST(m.metadata #>> '{tokens_used}' AS BIGINT)
          ELSE 0
        END
      END,
      CASE
        WHEN m.metadata #>> '{tokens_used}' ~ '^[+-]?[0-9]{1,18}$'
        THEN CAST(m.metadata #>> '{tokens_used}' AS BIGINT)
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
        LOWER(c.tenant_id) = CAST(%(tenant_id)s AS TEXT)
        AND msg.timestamp >= CAST(%(range_start)s AS TIMESTAMPTZ)
        AND msg.timestamp < CAST(%(range_end)s AS TIMESTAMPTZ)
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
    AND g.phone COLLATE "C" >= p.low COLLATE "C"
    AND (
      p.high = '' OR g.phone COLLATE "C" < p.high COLLATE "C"
    )
    AND p.valid_from <= g.day
    AND g.day < p.valid_to
  WHERE
    g.kind = 'whatsapp'
), priced_whatsapp AS (
  SELECT
    bucket,
    SUM(CASE WHEN w.charged THEN w.messages ELSE 0 END) AS whatsapp_charged_messages,
    SUM(CASE WHEN w.charged THEN 0 ELSE w.messages END) AS whatsapp_free_messages,
    SUM(CASE WHEN w.charged AND w.price IS NULL THEN w.messages ELSE 0 END) AS whatsapp_unpriced_messages,
    SUM(CASE WHEN w.category = 'marketing' THEN w.messages * w.price ELSE 0 END) AS whatsapp_marketing_cost,
    SUM(CASE WHEN w.category = 'utility' THEN w.messages * w.price ELSE 0 END) AS whatsapp_utility_cost,
    SUM(CASE WHEN w.category = 'authentication' THEN w.messages * w.price ELSE 0 END) AS whatsapp_authentication_cost,
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
    CAST(COALESCE(g.input_tokens * q.input_price + g.output_tokens * q.output_price, 0) AS DOUBLE PRECISION) / 1000000 + CAST(g.flat_tokens * CAST(%(llm_price_per_million_tokens)s AS DOUBLE PRECISION) AS DOUBLE PRECISION) / 1000000 AS llm_cost
  FROM (
    SELECT
      h.*,
      CASE
        WHEN h.model = ANY(
          CAST(%(llm_named_models)s AS TEXT[])
        )
        THEN h.model
        ELSE '*'
      END AS priced_model
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
), whatsapp_totals AS (
  SELECT
    SUM(CASE WHEN w.charged THEN w.messages ELSE 0 END) AS whatsapp_charged_messages,
    SUM(CASE WHEN w.charged THEN 0 ELSE w.messages END) AS whatsapp_free_messages,
    SUM(CASE WHEN w.charged AND w.price IS NULL THEN w.messages ELSE 0 END) AS whatsapp_unpriced_messages,
    SUM(CASE WHEN w.category = 'marketing' THEN w.messages * w.price ELSE 0 END) AS whatsapp_marketing_cost,
    SUM(CASE WHEN w.category = 'utility' THEN w.messages * w.price ELSE 0 END) AS whatsapp_utility_cost,
    SUM(CASE WHEN w.category = 'authentication' THEN w.messages * w.price ELSE 0 END) AS whatsapp_authentication_cost,
    SUM(COALESCE(w.messages * w.price, 0)) AS total_whatsapp_cost
  FROM priced_whatsapp_rows AS w
), llm_totals AS (
  SELECT
    SUM(l.messages) AS llm_messages,
    SUM(l.tokens_used) AS tokens_used,
    SUM(l.input_tokens) AS input_tokens,
    SUM(l.output_tokens) AS output_tokens,
    SUM(l.llm_cost) AS llm_cost
  FROM priced_llm_rows AS l
), conversation_totals AS (
  SELECT
    SUM(total_conversations) AS total_conversations
  FROM conversation_aggregates
)
SELECT
  *
FROM (
  SELECT
    b.bucket AS date,
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
    CASE
      WHEN c.total_conversations <> 0
      THEN CAST((
        COALESCE(l.llm_cost, 0) + COALESCE(w.total_whatsapp_cost, 0)
      ) AS DOUBLE PRECISION) / c.total_conversations
      ELSE NULL
    END AS cost_per_conversation
  FROM buckets AS b
  LEFT JOIN priced_whatsapp AS w
    ON w.bucket = b.bucket
  LEFT JOIN priced_llm AS l
    ON l.bucket = b.bucket
  LEFT JOIN conversation_aggregates AS c
    ON c.bucket = b.bucket
  UNION ALL
  SELECT
    CAST(NULL AS DATE),
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
    CASE
      WHEN c.total_conversations <> 0
      THEN CAST((
        COALESCE(l.llm_cost, 0) + COALESCE(w.total_whatsapp_cost, 0)
      ) AS DOUBLE PRECISION) / c.total_conversations
      ELSE NULL
    END AS cost_per_conversation
  FROM whatsapp_totals AS w
  CROSS JOIN llm_totals AS l
  CROSS JOIN conversation_totals AS c
) AS answer
ORDER BY
  date NULLS FIRST
