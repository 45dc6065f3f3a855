-- responses for postgres, seed layout, outlet filter off, by day
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
  ) AS _t0(d)
), turns AS (
  SELECT
    bucket,
    COUNT(*) AS customer_turns,
    COUNT(response_us) AS answered_turns,
    CAST(PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY
      response_us) AS DOUBLE PRECISION) / 1000000 AS median_response_time_seconds,
    CAST(PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY
      response_us) AS DOUBLE PRECISION) / 1000000 AS p90_response_time_seconds
  FROM (
    SELECT
      CAST(CAST(turn_at AS TIMESTAMPTZ) AT TIME ZONE CAST(%(tz)s AS TEXT) AS DATE) AS bucket,
      response_us
    FROM (
      SELECT
        t.turn_at,
        CAST(EXTRACT(EPOCH FROM t.reply_at - t.turn_at) * 1000000 AS BIGINT) AS response_us
      FROM (
        SELECT
          m.id,
          m.conversation_id,
          m.timestamp AS turn_at,
          m.sender_type = 'customer'
          AND COALESCE(
            LAG(m.sender_type) OVER (
              PARTITION BY m.conversation_id
              ORDER BY m.timestamp NULLS FIRST, m.id COLLATE "C" NULLS FIRST
            ) <> 'customer',
            TRUE
          ) AS turn_start,
          MIN(CASE WHEN m.sender_type IN ('llm', 'agent') THEN m.timestamp ELSE NULL END) OVER (
            PARTITION BY m.conversation_id
            ORDER BY m.timestamp DESC NULLS LAST, m.id COLLATE "C" DESC NULLS LAST
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
          ) AS reply_at
        FROM conversation_messages AS m
        WHERE
          m.sender_type <> 'system'
      ) AS t
      WHERE
        t.turn_start
        AND t.turn_at >= CAST(%(range_start)s AS TIMESTAMPTZ)
        AND t.turn_at < CAST(%(range_end)s AS TIMESTAMPTZ)
    ) AS turn_rows
  ) AS turn_buckets
  GROUP BY
    ROLLUP (
      bucket
    )
)
SELECT
  c.bucket AS date,
  COALESCE(t.customer_turns, 0) AS customer_turns,
  COALESCE(t.answered_turns, 0) AS answered_turns,
  t.median_response_time_seconds,
  t.p90_response_time_seconds,
  c.first_responses,
  c.average_first_response_seconds,
  c.median_first_response_seconds,
  c.answered_handoffs,
  c.unanswered_handoffs,
  c.average_human_response_seconds,
  c.median_human_response_seconds
FROM (
  SELECT
    bucket,
    COUNT(first_us) AS first_responses,
    CAST(AVG(first_us) AS DOUBLE PRECISION) / 1000000 AS average_first_response_seconds,
    CAST(PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY
      first_us) AS DOUBLE PRECISION) / 1000000 AS median_first_response_seconds,
    COUNT(human_us) AS answered_handoffs,
    COUNT(CASE WHEN handed AND human_us IS NULL THEN 1 END) AS unanswered_handoffs,
    CAST(AVG(human_us) AS DOUBLE PRECISION) / 1000000 AS average_human_response_seconds,
    CAST(PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY
      human_us) AS DOUBLE PRECISION) / 1000000 AS median_human_response_seconds
  FROM (
    SELECT
      CAST(CAST(started_at AS TIMESTAMPTZ) AT TIME ZONE CAST(%(tz)s AS TEXT) AS DATE) AS bucket,
      first_response_us AS first_us,
      human_response_us AS human_us,
      NOT handoff_at IS NULL AS handed
    FROM (
      SELECT
        c.started_at,
        c.status,
        h.handoff_at,
        COALESCE(o.messages, 0) AS messages,
        COALESCE(o.agent_messages, 0) AS agent_messages,
        COALESCE(o.llm_tokens, 0) AS llm_tokens,
        CAST(EXTRACT(EPOCH FROM o.first_response_at - c.started_at) * 1000000 AS BIGINT) AS first_response_us,
        CAST(EXTRACT(EPOCH FROM o.human_response_at - h.handoff_at) * 1000000 AS BIGINT) AS human_response_us
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
      LEFT JOIN (
        SELECT
          o.conversation_id,
          COUNT(*) AS messages,
          COUNT(CASE WHEN o.sender_type = 'agent' THEN 1 END) AS agent_messages,
          SUM(CASE WHEN o.sender_type = 'llm' THEN o.tokens_used ELSE 0 END) AS llm_tokens,
          MIN(CASE WHEN o.sender_type IN ('llm', 'agent') THEN o.timestamp ELSE NULL END) AS first_response_at,
          MIN(
            CASE
              WHEN o.sender_type = 'agent' AND o.after_handoff = 1
              THEN o.timestamp
              ELSE NULL
            END
          ) AS human_response_at
        FROM (
          SELECT
            m.conversation_id,
            m.sender_type,
            m.timestamp,
            CASE
              WHEN m.metadata #>> '{tokens_used}' ~ '^[+-]?[0-9]{1,18}$'
              THEN CAST(m.metadata #>> '{tokens_used}' AS BIGINT)
              ELSE 0
            END AS tokens_used,
            MAX(CASE WHEN m.metadata #>> '{handoff_requested}' = 'true' THEN 1 ELSE 0 END) OVER (
              PARTITION BY m.conversation_id
              ORDER BY m.timestamp NULLS FIRST, m.id COLLATE "C" NULLS FIRST
              ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
            ) AS after_handoff
          FROM conversation_messages AS m
        ) AS o
        GROUP BY
          o.conversation_id
      ) AS o
        ON o.conversation_id = c.id
      WHERE
        LOWER(c.tenant_id) = CAST(%(tenant_id)s AS TEXT)
        AND c.started_at >= CAST(%(range_start)s AS TIMESTAMPTZ)
        AND c.started_at < CAST(%(range_end)s AS TIMESTAMPTZ)
    ) AS cohort_rows
    UNION ALL
    SELECT
      bucket,
      CAST(NULL AS BIGINT),
      CAST(NULL AS BIGINT),
      FALSE
    FROM buckets
  ) AS measured
  GROUP BY
    ROLLUP (
      bucket
    )
) AS c
LEFT JOIN turns AS t
  ON t.bucket = c.bucket OR (
    t.bucket IS NULL AND c.bucket IS NULL
  )
ORDER BY
  date NULLS FIRST
