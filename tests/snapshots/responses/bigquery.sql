-- responses for bigquery, seed layout, outlet filter off, by day
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
  SELECT DISTINCT
    d AS bucket
  FROM UNNEST(GENERATE_DATE_ARRAY(@start_date, @end_date, INTERVAL '1' DAY)) AS d
), cohort AS (
  SELECT
    DATE(started_at, @tz) AS bucket,
    handoff_at,
    first_response_us,
    human_response_us
  FROM (
    SELECT
      c.started_at,
      c.status,
      h.handoff_at,
      COALESCE(o.messages, 0) AS messages,
      COALESCE(o.agent_messages, 0) AS agent_messages,
      COALESCE(o.llm_tokens, 0) AS llm_tokens,
      o.first_response_at,
      o.human_response_at,
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
), measured AS (
  SELECT
    DATE(turn_at, @tz) AS bucket,
    1 AS measure,
    response_us AS us
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
  UNION ALL
  SELECT
    bucket,
    2,
    first_response_us
  FROM cohort
  UNION ALL
  SELECT
    bucket,
    3,
    human_response_us
  FROM cohort
  WHERE
    NOT handoff_at IS NULL
), figures AS (
  SELECT
    bucket,
    COUNTIF(measure = 1) AS customer_turns,
    COUNT(IF(measure = 1, us, NULL)) AS answered_turns,
    (
      MAX(IF(rank = DIV((
        n - 1
      ) * 1, 2), IF(measure = 1, us, NULL), NULL)) + CAST(COALESCE(
        MAX(IF(rank = DIV((
          n - 1
        ) * 1, 2) + 1, IF(measure = 1, us, NULL), NULL)) - MAX(IF(rank = DIV((
          n - 1
        ) * 1, 2), IF(measure = 1, us, NULL), NULL)),
        0
      ) AS FLOAT64) * MAX(
        IF(
          rank = DIV((
            n - 1
          ) * 1, 2) AND NOT IF(measure = 1, us, NULL) IS NULL,
          MOD((
            n - 1
          ) * 1, 2),
          NULL
        )
      ) / 2
    ) / 1000000 AS median_response_time_seconds,
    (
      MAX(IF(rank = DIV((
        n - 1
      ) * 9, 10), IF(measure = 1, us, NULL), NULL)) + CAST(COALESCE(
        MAX(IF(rank = DIV((
          n - 1
        ) * 9, 10) + 1, IF(measure = 1, us, NULL), NULL)) - MAX(IF(rank = DIV((
          n - 1
        ) * 9, 10), IF(measure = 1, us, NULL), NULL)),
        0
      ) AS FLOAT64) * MAX(
        IF(
          rank = DIV((
            n - 1
          ) * 9, 10) AND NOT IF(measure = 1, us, NULL) IS NULL,
          MOD((
            n - 1
          ) * 9, 10),
          NULL
        )
      ) / 10
    ) / 1000000 AS p90_response_time_seconds,
    COUNT(IF(measure = 2, us, NULL)) AS first_responses,
    AVG(IF(measure = 2, us, NULL)) / 1000000 AS average_first_response_seconds,
    (
      MAX(IF(rank = DIV((
        n - 1
      ) * 1, 2), IF(measure = 2, us, NULL), NULL)) + CAST(COALESCE(
        MAX(IF(rank = DIV((
          n - 1
        ) * 1, 2) + 1, IF(measure = 2, us, NULL), NULL)) - MAX(IF(rank = DIV((
          n - 1
        ) * 1, 2), IF(measure = 2, us, NULL), NULL)),
        0
      ) AS FLOAT64) * MAX(
        IF(
          rank = DIV((
            n - 1
          ) * 1, 2) AND NOT IF(measure = 2, us, NULL) IS NULL,
          MOD((
            n - 1
          ) * 1, 2),
          NULL
        )
      ) / 2
    ) / 1000000 AS median_first_response_seconds,
    COUNT(IF(measure = 3, us, NULL)) AS answered_handoffs,
    COUNTIF(measure = 3 AND us IS NULL) AS unanswered_handoffs,
    AVG(IF(measure = 3, us, NULL)) / 1000000 AS average_human_response_seconds,
    (
      MAX(IF(rank = DIV((
        n - 1
      ) * 1, 2), IF(measure = 3, us, NULL), NULL)) + CAST(COALESCE(
        MAX(IF(rank = DIV((
          n - 1
        ) * 1, 2) + 1, IF(measure = 3, us, NULL), NULL)) - MAX(IF(rank = DIV((
          n - 1
        ) * 1, 2), IF(measure = 3, us, NULL), NULL)),
        0
      ) AS FLOAT64) * MAX(
        IF(
          rank = DIV((
            n - 1
          ) * 1, 2) AND NOT IF(measure = 3, us, NULL) IS NULL,
          MOD((
            n - 1
          ) * 1, 2),
          NULL
        )
      ) / 2
    ) / 1000000 AS median_human_response_seconds
  FROM (
    SELECT
      bucket,
      measure,
      us,
      ROW_NUMBER() OVER (PARTITION BY measure, bucket, us IS NULL ORDER BY us) - 1 AS rank,
      COUNT(us) OVER (PARTITION BY measure, bucket) AS n
    FROM (
      SELECT
        bucket,
        measure,
        us
      FROM measured
      UNION ALL
      SELECT
        bucket,
        0,
        CAST(NULL AS INT64)
      FROM buckets
    ) AS bucket_level
  ) AS ranked
  GROUP BY
    bucket
  UNION ALL
  SELECT
    CAST(NULL AS DATE),
    COUNTIF(measure = 1) AS customer_turns,
    COUNT(IF(measure = 1, us, NULL)) AS answered_turns,
    (
      MAX(IF(rank = DIV((
        n - 1
      ) * 1, 2), IF(measure = 1, us, NULL), NULL)) + CAST(COALESCE(
        MAX(IF(rank = DIV((
          n - 1
        ) * 1, 2) + 1, IF(measure = 1, us, NULL), NULL)) - MAX(IF(rank = DIV((
          n - 1
        ) * 1, 2), IF(measure = 1, us, NULL), NULL)),
        0
      ) AS FLOAT64) * MAX(
        IF(
          rank = DIV((
            n - 1
          ) * 1, 2) AND NOT IF(measure = 1, us, NULL) IS NULL,
          MOD((
            n - 1
          ) * 1, 2),
          NULL
        )
      ) / 2
    ) / 1000000 AS median_response_time_seconds,
    (
      MAX(IF(rank = DIV((
        n - 1
      ) * 9, 10), IF(measure = 1, us, NULL), NULL)) + CAST(COALESCE(
        MAX(IF(rank = DIV((
          n - 1
        ) * 9, 10) + 1, IF(measure = 1, us, NULL), NULL)) - MAX(IF(rank = DIV((
          n - 1
        ) * 9, 10), IF(measure = 1, us, NULL), NULL)),
        0
      ) AS FLOAT64) * MAX(
        IF(
          rank = DIV((
            n - 1
          ) * 9, 10) AND NOT IF(measure = 1, us, NULL) IS NULL,
          MOD((
            n - 1
          ) * 9, 10),
          NULL
        )
      ) / 10
    ) / 1000000 AS p90_response_time_seconds,
    COUNT(IF(measure = 2, us, NULL)) AS first_responses,
    AVG(IF(measure = 2, us, NULL)) / 1000000 AS average_first_response_seconds,
    (
      MAX(IF(rank = DIV((
        n - 1
      ) * 1, 2), IF(measure = 2, us, NULL), NULL)) + CAST(COALESCE(
        MAX(IF(rank = DIV((
          n - 1
        ) * 1, 2) + 1, IF(measure = 2, us, NULL), NULL)) - MAX(IF(rank = DIV((
          n - 1
        ) * 1, 2), IF(measure = 2, us, NULL), NULL)),
        0
      ) AS FLOAT64) * MAX(
        IF(
          rank = DIV((
            n - 1
          ) * 1, 2) AND NOT IF(measure = 2, us, NULL) IS NULL,
          MOD((
            n - 1
          ) * 1, 2),
          NULL
        )
      ) / 2
    ) / 1000000 AS median_first_response_seconds,
    COUNT(IF(measure = 3, us, NULL)) AS answered_handoffs,
    COUNTIF(measure = 3 AND us IS NULL) AS unanswered_handoffs,
    AVG(IF(measure = 3, us, NULL)) / 1000000 AS average_human_response_seconds,
    (
      MAX(IF(rank = DIV((
        n - 1
      ) * 1, 2), IF(measure = 3, us, NULL), NULL)) + CAST(COALESCE(
        MAX(IF(rank = DIV((
          n - 1
        ) * 1, 2) + 1, IF(measure = 3, us, NULL), NULL)) - MAX(IF(rank = DIV((
          n - 1
        ) * 1, 2), IF(measure = 3, us, NULL), NULL)),
        0
      ) AS FLOAT64) * MAX(
        IF(
          rank = DIV((
            n - 1
          ) * 1, 2) AND NOT IF(measure = 3, us, NULL) IS NULL,
          MOD((
            n - 1
          ) * 1, 2),
          NULL
        )
      ) / 2
    ) / 1000000 AS median_human_response_seconds
  FROM (
    SELECT
      measure,
      us,
      ROW_NUMBER() OVER (PARTITION BY measure, us IS NULL ORDER BY us) - 1 AS rank,
      COUNT(us) OVER (PARTITION BY measure) AS n
    FROM measured
  ) AS ranked
)
SELECT
  bucket AS date,
  customer_turns,
  answered_turns,
  median_response_time_seconds,
  p90_response_time_seconds,
  first_responses,
  average_first_response_seconds,
  median_first_response_seconds,
  answered_handoffs,
  unanswered_handoffs,
  average_human_response_seconds,
  median_human_response_seconds
FROM figures
ORDER BY
  date
