-- cost_markets for bigquery, seed layout, outlet filter off, by range
WITH whatsapp_price_rows AS (
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
    @start_date AS bucket,
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
      COALESCE(
        IF(STARTS_WITH(m.customer_phone, '+'), SUBSTR(m.customer_phone, 2), m.customer_phone),
        ''
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
    ON CAST(g.phone AS BYTES) >= CAST(k.low AS BYTES)
    AND (
      k.high = '' OR CAST(g.phone AS BYTES) < CAST(k.high AS BYTES)
    )
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
), markets AS (
  SELECT
    w.prefix,
    SUM(IF(w.charged, w.messages, 0)) AS whatsapp_charged_messages,
    SUM(IF(w.charged, 0, w.messages)) AS whatsapp_free_messages,
    SUM(IF(w.charged AND w.price IS NULL, w.messages, 0)) AS whatsapp_unpriced_messages,
    SUM(IF(w.category = 'marketing', w.messages * w.price, 0)) AS whatsapp_marketing_cost,
    SUM(IF(w.category = 'utility', w.messages * w.price, 0)) AS whatsapp_utility_cost,
    SUM(IF(w.category = 'authentication', w.messages * w.price, 0)) AS whatsapp_authentication_cost,
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
  CAST(prefix AS BYTES)
