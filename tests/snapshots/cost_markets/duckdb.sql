-- cost_markets for duckdb, seed layout, outlet filter off, by range
WITH whatsapp_price_rows AS (
  SELECT
    (
      CAST($whatsapp_lows AS TEXT[])
    )[i] AS low,
    (
      CAST($whatsapp_highs AS TEXT[])
    )[i] AS high,
    (
      CAST($whatsapp_markets AS TEXT[])
    )[i] AS market,
    (
      CAST($whatsapp_categories AS TEXT[])
    )[i] AS category,
    (
      CAST($whatsapp_prices AS DOUBLE[])
    )[i] AS price,
    (
      CAST($whatsapp_valid_from AS DATE[])
    )[i] AS valid_from,
    (
      CAST($whatsapp_valid_to AS DATE[])
    )[i] AS valid_to
  FROM UNNEST(GENERATE_SERIES(1, ARRAY_LENGTH(CAST($whatsapp_lows AS TEXT[])))) AS _t0(i)
), llm_price_rows AS (
  SELECT
    (
      CAST($llm_models AS TEXT[])
    )[i] AS model,
    (
      CAST($llm_input_prices AS DOUBLE[])
    )[i] AS input_price,
    (
      CAST($llm_output_prices AS DOUBLE[])
    )[i] AS output_price,
    (
      CAST($llm_valid_from AS DATE[])
    )[i] AS valid_from,
    (
      CAST($llm_valid_to AS DATE[])
    )[i] AS valid_to
  FROM UNNEST(GENERATE_SERIES(1, ARRAY_LENGTH(CAST($llm_models AS TEXT[])))) AS _t1(i)
), priced_groups AS (
  SELECT
    CAST($start_date AS DATE) AS bucket,
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
      COALESCE(
        CASE
          WHEN STARTS_WITH(m.customer_phone, '+')
          THEN SUBSTRING(m.customer_phone, 2)
          ELSE m.customer_phone
        END,
        ''
      ) AS phone,
      COALESCE((
        m.metadata ->> '$.pricing.type'
      ) = 'regular', FALSE) AS charged,
      CASE
        WHEN COALESCE((
          m.metadata ->> '$.pricing.type'
        ) = 'regular', FALSE)
        THEN CASE
          WHEN CASE WHEN JSON_TYPE(m.metadata, '$.pricing.category') = 'VARCHAR' THEN 'string' END = 'string'
          THEN m.metadata ->> '$.pricing.category'
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
        LOWER(c.tenant_id) = CAST($tenant_id AS TEXT)
        AND msg.timestamp >= CAST($range_start AS TIMESTAMPTZ)
        AND msg.timestamp < CAST($range_end AS TIMESTAMPTZ)
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
        WHEN CASE WHEN JSON_TYPE(m.metadata, '$.model') = 'VARCHAR' THEN 'string' END = 'string'
        THEN m.metadata ->> '$.model'
        ELSE NULL
      END,
      CASE
        WHEN REGEXP_MATCHES((
          m.metadata ->> '$.input_tokens'
        ), '^[+-]?[0-9]{1,18}$')
        THEN CAST(m.metadata ->> '$.input_tokens' AS BIGINT)
        ELSE 0
      END,
      CASE
        WHEN REGEXP_MATCHES((
          m.metadata ->> '$.output_tokens'
        ), '^[+-]?[0-9]{1,18}$')
        THEN CAST(m.metadata ->> '$.output_tokens' AS BIGINT)
        ELSE 0
      END,
      CASE
        WHEN COALESCE(
          REGEXP_MATCHES((
            m.metadata ->> '$.input_tokens'
          ), '^[+-]?[0-9]{1,18}$')
          OR REGEXP_MATCHES((
            m.metadata ->> '$.output_tokens'
          ), '^[+-]?[0-9]{1,18}$'),
          FALSE
        )
        THEN 0
        ELSE CASE
          WHEN REGEXP_MATCHES((
            m.metadata ->> '$.tokens_used'
          ), '^[+-]?[0-9]{1,18}$')
          THEN CAST(m.metadata ->> '$.tokens_used' AS BIGINT)
          ELSE 0
        END
      END,
      CASE
        WHEN REGEXP_MATCHES((
          m.metadata ->> '$.tokens_used'
        ), '^[+-]?[0-9]{1,18}$')
        THEN CAST(m.metadata ->> '$.tokens_used' AS BIGINT)
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
        LOWER(c.tenant_id) = CAST($tenant_id AS TEXT)
        AND msg.timestamp >= CAST($range_start AS TIMESTAMPTZ)
        AND msg.timestamp < CAST($range_end AS TIMESTAMPTZ)
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
    k.market AS prefix,
    g.charged,
    g.category,
    g.messages,
    p.price
  FROM priced_groups AS g
  LEFT JOIN (
    SELECT DISTINCT
      low,
      high,
      market
    FROM whatsapp_price_rows
  ) AS k
    ON g.phone >= k.low AND (
      k.high = '' OR g.phone < k.high
    )
  LEFT JOIN whatsapp_price_rows AS p
    ON g.charged
    AND p.category = g.category
    AND g.phone >= p.low
    AND (
      p.high = '' OR g.phone < p.high
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
    COALESCE(g.input_tokens * q.input_price + g.output_tokens * q.output_price, 0) / 1000000 + g.flat_tokens * CAST($llm_price_per_million_tokens AS DOUBLE) / 1000000 AS llm_cost
  FROM (
    SELECT
      h.*,
      CASE
        WHEN ARRAY_CONTAINS(CAST($llm_named_models AS TEXT[]), h.model)
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
), markets AS (
  SELECT
    w.prefix,
    SUM(CASE WHEN w.charged THEN w.messages ELSE 0 END) AS whatsapp_charged_messages,
    SUM(CASE WHEN w.charged THEN 0 ELSE w.messages END) AS whatsapp_free_messages,
    SUM(CASE WHEN w.charged AND w.price IS NULL THEN w.messages ELSE 0 END) AS whatsapp_unpriced_messages,
    SUM(CASE WHEN w.category = 'marketing' THEN w.messages * w.price ELSE 0 END) AS whatsapp_marketing_cost,
    SUM(CASE WHEN w.category = 'utility' THEN w.messages * w.price ELSE 0 END) AS whatsapp_utility_cost,
    SUM(CASE WHEN w.category = 'authentication' THEN w.messages * w.price ELSE 0 END) AS whatsapp_authentication_cost,
    SUM(COALESCE(w.messages * w.price, 0)) AS total_whatsapp_cost
  FROM priced_whatsapp_rows AS w
  WHERE
    NOT w.prefix IS NULL
  GROUP BY
    w.prefix
)
SELECT
  prefix,
  whatsapp_charged_messages,
  whatsapp_free_messages,
  whatsapp_unpriced_messages,
  COALESCE(whatsapp_marketing_cost, 0) AS whatsapp_marketing_cost,
  COALESCE(whatsapp_utility_cost, 0) AS whatsapp_utility_cost,
  COALESCE(whatsapp_authentication_cost, 0) AS whatsapp_authentication_cost,
  total_whatsapp_cost
FROM markets
ORDER BY
  prefix NULLS FIRST
