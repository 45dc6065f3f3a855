-- priced_dashboard for duckdb, seed layout, outlet filter off, by day
WITH window_conversations AS (
  SELECT
    s.id AS conversation_id
  FROM conversations AS s
  WHERE
    LOWER(s.tenant_id) = CAST($tenant_id AS TEXT)
    AND s.started_at >= CAST($range_start AS TIMESTAMPTZ)
    AND s.started_at < CAST($range_end AS TIMESTAMPTZ)
  UNION
  SELECT
    c.id AS conversation_id
  FROM messages AS msg
  JOIN conversations AS c
    ON c.id = msg.conversation_id
  WHERE
    LOWER(c.tenant_id) = CAST($tenant_id AS TEXT)
    AND msg.timestamp >= CAST($range_start AS TIMESTAMPTZ)
    AND msg.timestamp < CAST($range_end AS TIMESTAMPTZ)
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
  FROM UNNEST(CAST(GENERATE_SERIES(
    CAST($start_date AS DATE),
    CAST($end_date AS DATE),
    INTERVAL '1' DAY
  ) AS DATE[])) AS _t0(d)
), conversation_aggregates AS (
  SELECT
    CAST(CAST(started_at AS TIMESTAMPTZ) AT TIME ZONE CAST($tz AS TEXT) AS DATE) AS bucket,
    COUNT(*) AS total_conversations,
    COUNT(CASE WHEN status = 'active' THEN 1 END) AS active_conversations,
    COUNT(CASE WHEN status = 'resolved' THEN 1 END) AS resolved_conversations,
    COUNT(CASE WHEN status = 'handed_off' THEN 1 END) AS handed_off_conversations,
    AVG(duration_us) / 60000000 AS average_duration_minutes,
    COUNT(handoff_at) AS total_handoffs,
    COUNT(CASE WHEN handoff_trigger = 'keyword' THEN 1 END) AS keyword_triggered,
    COUNT(CASE WHEN handoff_trigger = 'confidence' THEN 1 END) AS confidence_triggered,
    AVG(DATE_DIFF('MICROSECOND', started_at, handoff_at)) / 60000000 AS average_time_to_handoff_minutes
  FROM (
    SELECT
      c.started_at,
      c.status,
      DATE_DIFF('MICROSECOND', c.started_at, c.ended_at) AS duration_us,
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
          m.metadata ->> '$.trigger' AS handoff_trigger,
          ROW_NUMBER() OVER (PARTITION BY m.conversation_id ORDER BY m.timestamp NULLS FIRST, m.id NULLS FIRST) AS n
        FROM conversation_messages AS m
        WHERE
          (
            m.metadata ->> '$.handoff_requested'
          ) = 'true'
      ) AS requests
      WHERE
        n = 1
    ) AS h
      ON h.conversation_id = c.id
    WHERE
      LOWER(c.tenant_id) = CAST($tenant_id AS TEXT)
      AND c.started_at >= CAST($range_start AS TIMESTAMPTZ)
      AND c.started_at < CAST($range_end AS TIMESTAMPTZ)
  ) AS conversation_rows
  GROUP BY
    bucket
), message_aggregates AS (
  SELECT
    CAST(CAST(ts AS TIMESTAMPTZ) AT TIME ZONE CAST($tz AS TEXT) AS DATE) AS bucket,
    COUNT(*) AS total_messages,
    COUNT(CASE WHEN sender_type = 'customer' THEN 1 END) AS customer_messages,
    COUNT(CASE WHEN sender_type = 'llm' THEN 1 END) AS llm_messages,
    COUNT(CASE WHEN sender_type = 'agent' THEN 1 END) AS agent_messages,
    SUM(CASE WHEN sender_type = 'llm' THEN tokens_used ELSE 0 END) AS total_tokens_used
  FROM (
    SELECT
      w.timestamp AS ts,
      w.sender_type,
      CASE
        WHEN REGEXP_MATCHES((
          w.metadata ->> '$.tokens_used'
        ), '^[+-]?[0-9]{1,18}$')
        THEN CAST(w.metadata ->> '$.tokens_used' AS BIGINT)
        ELSE 0
      END AS tokens_used
    FROM conversation_messages AS w
    WHERE
      w.timestamp >= CAST($range_start AS TIMESTAMPTZ)
      AND w.timestamp < CAST($range_end AS TIMESTAMPTZ)
  ) AS message_rows
  GROUP BY
    bucket
), whatsapp_price_rows AS (
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
  FROM UNNEST(GENERATE_SERIES(1, ARRAY_LENGTH(CAST($whatsapp_lows AS TEXT[])))) AS _t1(i)
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
  FROM UNNEST(GENERATE_SERIES(1, ARRAY_LENGTH(CAST($llm_models AS TEXT[])))) AS _t2(i)
), priced_groups AS (
  SELECT
    CAST(CAST(g.bucket_at AS TIMESTAMPTZ) AT TIME ZONE CAST($tz AS TEXT) AS DATE) AS bucket,
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
        WHEN COALESCE((
          m.metadata ->> '$.pricing.type'
        ) = 'regular', FALSE)
        THEN COALESCE(
          CASE
            WHEN STARTS_WITH(m.customer_phone, '+')
            THEN SUBSTRING(m.customer_phone, 2)
            ELSE m.customer_phone
          END,
          ''
        )
        ELSE NULL
      END AS phone,
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
    p.market AS prefix,
    g.charged,
    g.category,
    g.messages,
    p.price
  FROM priced_groups AS g
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
), turn_aggregates AS (
  SELECT
    CAST(CAST(turn_at AS TIMESTAMPTZ) AT TIME ZONE CAST($tz AS TEXT) AS DATE) AS bucket,
    AVG(response_us) / 1000000 AS average_response_time_seconds,
    COUNT(*) AS answered_turns,
    SUM(response_us) AS response_us
  FROM (
    SELECT
      t.turn_at,
      DATE_DIFF('MICROSECOND', t.turn_at, t.reply_at) AS response_us
    FROM (
      SELECT
        m.id,
        m.conversation_id,
        m.timestamp AS turn_at,
        m.sender_type = 'customer'
        AND COALESCE(
          LAG(m.sender_type) OVER (PARTITION BY m.conversation_id ORDER BY m.timestamp NULLS FIRST, m.id NULLS FIRST) <> 'customer',
          TRUE
        ) AS turn_start,
        MIN(CASE WHEN m.sender_type IN ('llm', 'agent') THEN m.timestamp ELSE NULL END) OVER (
          PARTITION BY m.conversation_id
          ORDER BY m.timestamp DESC, m.id DESC
          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ) AS reply_at
      FROM conversation_messages AS m
      WHERE
        m.sender_type <> 'system'
    ) AS t
    WHERE
      t.turn_start
      AND t.turn_at >= CAST($range_start AS TIMESTAMPTZ)
      AND t.turn_at < CAST($range_end AS TIMESTAMPTZ)
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
  CASE
    WHEN c.total_conversations <> 0
    THEN c.resolved_conversations / c.total_conversations
    ELSE NULL
  END AS resolution_rate,
  COALESCE(n.total_messages, 0) AS total_messages,
  COALESCE(n.customer_messages, 0) AS customer_messages,
  COALESCE(n.llm_messages, 0) AS llm_messages,
  COALESCE(n.agent_messages, 0) AS agent_messages,
  t.average_response_time_seconds,
  COALESCE(c.total_handoffs, 0) AS total_handoffs,
  COALESCE(c.keyword_triggered, 0) AS keyword_triggered,
  COALESCE(c.confidence_triggered, 0) AS confidence_triggered,
  c.average_time_to_handoff_minutes,
  CASE
    WHEN c.total_conversations <> 0
    THEN c.total_handoffs / c.total_conversations
    ELSE NULL
  END AS handoff_rate,
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
  CASE
    WHEN c.total_conversations <> 0
    THEN (
      COALESCE(l.llm_cost, 0) + COALESCE(w.total_whatsapp_cost, 0)
    ) / c.total_conversations
    ELSE NULL
  END AS cost_per_conversation
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
  date NULLS FIRST
