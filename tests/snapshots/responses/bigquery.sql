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
  SELECT
    d AS bucket
  FROM UNNEST(GENERATE_DATE_ARRAY(@start_date, @end_date, INTERVAL '1' DAY)) AS d
), turns AS (
  SELECT
    bucket,
    COUNT(*) AS customer_turns,
    COUNT(response_us) AS answered_turns,
    IF(
      GROUPING(bucket) = 0,
      (
        MAX(IF(response_us_rank = DIV((
          response_us_n - 1
        ) * 1, 2), response_us, NULL)) + CAST(COALESCE(
          MAX(
            IF(response_us_rank = DIV((
              response_us_n - 1
            ) * 1, 2) + 1, response_us, NULL)
          ) - MAX(IF(response_us_rank = DIV((
            response_us_n - 1
          ) * 1, 2), response_us, NULL)),
          0
        ) AS FLOAT64) * MAX(
          IF(
            response_us_rank = DIV((
              response_us_n - 1
            ) * 1, 2)
            AND NOT response_us IS NULL,
            MOD((
              response_us_n - 1
            ) * 1, 2),
            NULL
          )
        ) / 2
      ),
      (
        MAX(
          IF(response_us_rank_all = DIV((
            response_us_n_all - 1
          ) * 1, 2), response_us, NULL)
        ) + CAST(COALESCE(
          MAX(
            IF(
              response_us_rank_all = DIV((
                response_us_n_all - 1
              ) * 1, 2) + 1,
              response_us,
              NULL
            )
          ) - MAX(
            IF(response_us_rank_all = DIV((
              response_us_n_all - 1
            ) * 1, 2), response_us, NULL)
          ),
          0
        ) AS FLOAT64) * MAX(
          IF(
            response_us_rank_all = DIV((
              response_us_n_all - 1
            ) * 1, 2)
            AND NOT response_us IS NULL,
            MOD((
              response_us_n_all - 1
            ) * 1, 2),
            NULL
          )
        ) / 2
      )
    ) / 1000000 AS median_response_time_seconds,
    IF(
      GROUPING(bucket) = 0,
      (
        MAX(IF(response_us_rank = DIV((
          response_us_n - 1
        ) * 9, 10), response_us, NULL)) + CAST(COALESCE(
          MAX(
            IF(response_us_rank = DIV((
              response_us_n - 1
            ) * 9, 10) + 1, response_us, NULL)
          ) - MAX(IF(response_us_rank = DIV((
            response_us_n - 1
          ) * 9, 10), response_us, NULL)),
          0
        ) AS FLOAT64) * MAX(
          IF(
            response_us_rank = DIV((
              response_us_n - 1
            ) * 9, 10)
            AND NOT response_us IS NULL,
            MOD((
              response_us_n - 1
            ) * 9, 10),
            NULL
          )
        ) / 10
      ),
      (
        MAX(
          IF(response_us_rank_all = DIV((
            response_us_n_all - 1
          ) * 9, 10), response_us, NULL)
        ) + CAST(COALESCE(
          MAX(
            IF(
              response_us_rank_all = DIV((
                response_us_n_all - 1
              ) * 9, 10) + 1,
              response_us,
              NULL
            )
          ) - MAX(
            IF(response_us_rank_all = DIV((
              response_us_n_all - 1
            ) * 9, 10), response_us, NULL)
          ),
          0
        ) AS FLOAT64) * MAX(
          IF(
            response_us_rank_all = DIV((
              response_us_n_all - 1
            ) * 9, 10)
            AND NOT response_us IS NULL,
            MOD((
              response_us_n_all - 1
            ) * 9, 10),
            NULL
          )
        ) / 10
      )
    ) / 1000000 AS p90_response_time_seconds
  FROM (
    SELECT
      *,
      ROW_NUMBER() OVER (PARTITION BY bucket, response_us IS NULL ORDER BY response_us) - 1 AS response_us_rank,
      COUNT(response_us) OVER (PARTITION BY bucket) AS response_us_n,
      ROW_NUMBER() OVER (PARTITION BY response_us IS NULL ORDER BY response_us) - 1 AS response_us_rank_all,
      COUNT(response_us) OVER () AS response_us_n_all
    FROM (
      SELECT
        DATE(turn_at, @tz) AS bucket,
        response_us
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
    ) AS turn_buckets
  ) AS ranked
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
    AVG(first_us) / 1000000 AS average_first_response_seconds,
    IF(
      GROUPING(bucket) = 0,
      (
        MAX(IF(first_us_rank = DIV((
          first_us_n - 1
        ) * 1, 2), first_us, NULL)) + CAST(COALESCE(
          MAX(IF(first_us_rank = DIV((
            first_us_n - 1
          ) * 1, 2) + 1, first_us, NULL)) - MAX(IF(first_us_rank = DIV((
            first_us_n - 1
          ) * 1, 2), first_us, NULL)),
          0
        ) AS FLOAT64) * MAX(
          IF(
            first_us_rank = DIV((
              first_us_n - 1
            ) * 1, 2) AND NOT first_us IS NULL,
            MOD((
              first_us_n - 1
            ) * 1, 2),
            NULL
          )
        ) / 2
      ),
      (
        MAX(IF(first_us_rank_all = DIV((
          first_us_n_all - 1
        ) * 1, 2), first_us, NULL)) + CAST(COALESCE(
          MAX(IF(first_us_rank_all = DIV((
            first_us_n_all - 1
          ) * 1, 2) + 1, first_us, NULL)) - MAX(IF(first_us_rank_all = DIV((
            first_us_n_all - 1
          ) * 1, 2), first_us, NULL)),
          0
        ) AS FLOAT64) * MAX(
          IF(
            first_us_rank_all = DIV((
              first_us_n_all - 1
            ) * 1, 2) AND NOT first_us IS NULL,
            MOD((
              first_us_n_all - 1
            ) * 1, 2),
            NULL
          )
        ) / 2
      )
    ) / 1000000 AS median_first_response_seconds,
    COUNT(human_us) AS answered_handoffs,
    COUNTIF(handed AND human_us IS NULL) AS unanswered_handoffs,
    AVG(human_us) / 1000000 AS average_human_response_seconds,
    IF(
      GROUPING(bucket) = 0,
      (
        MAX(IF(human_us_rank = DIV((
          human_us_n - 1
        ) * 1, 2), human_us, NULL)) + CAST(COALESCE(
          MAX(IF(human_us_rank = DIV((
            human_us_n - 1
          ) * 1, 2) + 1, human_us, NULL)) - MAX(IF(human_us_rank = DIV((
            human_us_n - 1
          ) * 1, 2), human_us, NULL)),
          0
        ) AS FLOAT64) * MAX(
          IF(
            human_us_rank = DIV((
              human_us_n - 1
            ) * 1, 2) AND NOT human_us IS NULL,
            MOD((
              human_us_n - 1
            ) * 1, 2),
            NULL
          )
        ) / 2
      ),
      (
        MAX(IF(human_us_rank_all = DIV((
          human_us_n_all - 1
        ) * 1, 2), human_us, NULL)) + CAST(COALESCE(
          MAX(IF(human_us_rank_all = DIV((
            human_us_n_all - 1
          ) * 1, 2) + 1, human_us, NULL)) - MAX(IF(human_us_rank_all = DIV((
            human_us_n_all - 1
          ) * 1, 2), human_us, NULL)),
          0
        ) AS FLOAT64) * MAX(
          IF(
            human_us_rank_all = DIV((
              human_us_n_all - 1
            ) * 1, 2) AND NOT human_us IS NULL,
            MOD((
              human_us_n_all - 1
            ) * 1, 2),
            NULL
          )
        ) / 2
      )
    ) / 1000000 AS median_human_response_seconds
  FROM (
    SELECT
      *,
      ROW_NUMBER() OVER (PARTITION BY bucket, first_us IS NULL ORDER BY first_us) - 1 AS first_us_rank,
      COUNT(first_us) OVER (PARTITION BY bucket) AS first_us_n,
      ROW_NUMBER() OVER (PARTITION BY first_us IS NULL ORDER BY first_us) - 1 AS first_us_rank_all,
      COUNT(first_us) OVER () AS first_us_n_all,
      ROW_NUMBER() OVER (PARTITION BY bucket, human_us IS NULL ORDER BY human_us) - 1 AS human_us_rank,
      COUNT(human_us) OVER (PARTITION BY bucket) AS human_us_n,
      ROW_NUMBER() OVER (PARTITION BY human_us IS NULL ORDER BY human_us) - 1 AS human_us_rank_all,
      COUNT(human_us) OVER () AS human_us_n_all
    FROM (
      SELECT
        DATE(started_at, @tz) AS bucket,
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
        CAST(NULL AS INT64),
        CAST(NULL AS INT64),
        FALSE
      FROM buckets
    ) AS measured
  ) AS ranked
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
  date
