-- responses for duckdb, seed layout, outlet filter off, by day
WITH buckets AS (
  SELECT DISTINCT
    d AS bucket
  FROM UNNEST(CAST(GENERATE_SERIES(
    CAST($start_date AS DATE),
    CAST($end_date AS DATE),
    INTERVAL '1' DAY
  ) AS DATE[])) AS _t0(d)
), cohort AS (
  SELECT
    CAST(CAST(started_at AS TIMESTAMPTZ) AT TIME ZONE CAST($tz AS TEXT) AS DATE) AS bucket,
    started_at,
    handoff_at,
    first_response_at,
    human_response_at
  FROM (
    SELECT
      c.started_at,
      c.status,
      h.handoff_at,
      COALESCE(o.messages, 0) AS messages,
      COALESCE(o.agent_messages, 0) AS agent_messages,
      COALESCE(o.llm_tokens, 0) AS llm_tokens,
      o.first_response_at,
      o.human_response_at
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
        FROM messages AS m
        WHERE
          (
            m.metadata ->> '$.handoff_requested'
          ) = 'true'
          AND m.conversation_id IN (
            SELECT
              s.id
            FROM conversations AS s
            WHERE
              LOWER(s.tenant_id) = CAST($tenant_id AS TEXT)
              AND s.started_at >= CAST($range_start AS TIMESTAMPTZ)
              AND s.started_at < CAST($range_end AS TIMESTAMPTZ)
          )
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
            WHEN REGEXP_MATCHES((
              m.metadata ->> '$.tokens_used'
            ), '^[+-]?[0-9]{1,18}$')
            THEN CAST(m.metadata ->> '$.tokens_used' AS BIGINT)
            ELSE 0
          END AS tokens_used,
          MAX(CASE WHEN (
            m.metadata ->> '$.handoff_requested'
          ) = 'true' THEN 1 ELSE 0 END) OVER (
            PARTITION BY m.conversation_id
            ORDER BY m.timestamp NULLS FIRST, m.id NULLS FIRST
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
          ) AS after_handoff
        FROM messages AS m
        WHERE
          m.conversation_id IN (
            SELECT
              s.id
            FROM conversations AS s
            WHERE
              LOWER(s.tenant_id) = CAST($tenant_id AS TEXT)
              AND s.started_at >= CAST($range_start AS TIMESTAMPTZ)
              AND s.started_at < CAST($range_end AS TIMESTAMPTZ)
          )
      ) AS o
      GROUP BY
        o.conversation_id
    ) AS o
      ON o.conversation_id = c.id
    WHERE
      LOWER(c.tenant_id) = CAST($tenant_id AS TEXT)
      AND c.started_at >= CAST($range_start AS TIMESTAMPTZ)
      AND c.started_at < CAST($range_end AS TIMESTAMPTZ)
  ) AS cohort_rows
), durations AS (
  SELECT
    bucket,
    measure,
    us,
    ROW_NUMBER() OVER (PARTITION BY measure, bucket, us IS NULL ORDER BY us NULLS FIRST) - 1 AS bucket_rank,
    COUNT(us) OVER (PARTITION BY measure, bucket) AS bucket_count,
    ROW_NUMBER() OVER (PARTITION BY measure, us IS NULL ORDER BY us NULLS FIRST) - 1 AS range_rank,
    COUNT(us) OVER (PARTITION BY measure) AS range_count
  FROM (
    SELECT
      CAST(CAST(turn_at AS TIMESTAMPTZ) AT TIME ZONE CAST($tz AS TEXT) AS DATE) AS bucket,
      'turn' AS measure,
      DATE_DIFF('MICROSECOND', turn_at, reply_at) AS us
    FROM (
      SELECT
        t.turn_at,
        t.reply_at
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
            ORDER BY m.timestamp NULLS FIRST, m.id NULLS FIRST
            ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING
          ) AS reply_at
        FROM messages AS m
        WHERE
          m.sender_type <> 'system'
          AND m.conversation_id IN (
            SELECT
              r.conversation_id
            FROM messages AS r
            JOIN conversations AS c
              ON c.id = r.conversation_id
            WHERE
              r.sender_type = 'customer'
              AND LOWER(c.tenant_id) = CAST($tenant_id AS TEXT)
              AND r.timestamp >= CAST($range_start AS TIMESTAMPTZ)
              AND r.timestamp < CAST($range_end AS TIMESTAMPTZ)
          )
      ) AS t
      WHERE
        t.turn_start
        AND t.turn_at >= CAST($range_start AS TIMESTAMPTZ)
        AND t.turn_at < CAST($range_end AS TIMESTAMPTZ)
    ) AS turn_rows
    UNION ALL
    SELECT
      bucket,
      'first',
      DATE_DIFF('MICROSECOND', started_at, first_response_at)
    FROM cohort
    UNION ALL
    SELECT
      bucket,
      'human',
      DATE_DIFF('MICROSECOND', handoff_at, human_response_at)
    FROM cohort
    WHERE
      NOT handoff_at IS NULL
  ) AS measured
), by_bucket AS (
  SELECT
    bucket,
    COUNT(CASE WHEN measure = 'turn' THEN 1 END) AS customer_turns,
    COUNT(CASE WHEN measure = 'turn' AND NOT us IS NULL THEN 1 END) AS answered_turns,
    (
      MAX(
        CASE
          WHEN measure = 'turn' AND bucket_rank = (
            (
              bucket_count - 1
            ) * 1
          ) // 2
          THEN us
          ELSE NULL
        END
      ) + CAST(COALESCE(
        MAX(
          CASE
            WHEN measure = 'turn' AND bucket_rank = (
              (
                bucket_count - 1
              ) * 1
            ) // 2 + 1
            THEN us
            ELSE NULL
          END
        ) - MAX(
          CASE
            WHEN measure = 'turn' AND bucket_rank = (
              (
                bucket_count - 1
              ) * 1
            ) // 2
            THEN us
            ELSE NULL
          END
        ),
        0
      ) AS DOUBLE) * MAX(
        CASE
          WHEN measure = 'turn' AND bucket_rank = (
            (
              bucket_count - 1
            ) * 1
          ) // 2
          THEN (
            (
              bucket_count - 1
            ) * 1
          ) % 2
          ELSE NULL
        END
      ) / 2
    ) / 1000000 AS median_response_time_seconds,
    (
      MAX(
        CASE
          WHEN measure = 'turn' AND bucket_rank = (
            (
              bucket_count - 1
            ) * 9
          ) // 10
          THEN us
          ELSE NULL
        END
      ) + CAST(COALESCE(
        MAX(
          CASE
            WHEN measure = 'turn' AND bucket_rank = (
              (
                bucket_count - 1
              ) * 9
            ) // 10 + 1
            THEN us
            ELSE NULL
          END
        ) - MAX(
          CASE
            WHEN measure = 'turn' AND bucket_rank = (
              (
                bucket_count - 1
              ) * 9
            ) // 10
            THEN us
            ELSE NULL
          END
        ),
        0
      ) AS DOUBLE) * MAX(
        CASE
          WHEN measure = 'turn' AND bucket_rank = (
            (
              bucket_count - 1
            ) * 9
          ) // 10
          THEN (
            (
              bucket_count - 1
            ) * 9
          ) % 10
          ELSE NULL
        END
      ) / 10
    ) / 1000000 AS p90_response_time_seconds,
    COUNT(CASE WHEN measure = 'first' AND NOT us IS NULL THEN 1 END) AS first_responses,
    AVG(CASE WHEN measure = 'first' THEN us ELSE NULL END) / 1000000 AS average_first_response_seconds,
    (
      MAX(
        CASE
          WHEN measure = 'first' AND bucket_rank = (
            (
              bucket_count - 1
            ) * 1
          ) // 2
          THEN us
          ELSE NULL
        END
      ) + CAST(COALESCE(
        MAX(
          CASE
            WHEN measure = 'first' AND bucket_rank = (
              (
                bucket_count - 1
              ) * 1
            ) // 2 + 1
            THEN us
            ELSE NULL
          END
        ) - MAX(
          CASE
            WHEN measure = 'first' AND bucket_rank = (
              (
                bucket_count - 1
              ) * 1
            ) // 2
            THEN us
            ELSE NULL
          END
        ),
        0
      ) AS DOUBLE) * MAX(
        CASE
          WHEN measure = 'first' AND bucket_rank = (
            (
              bucket_count - 1
            ) * 1
          ) // 2
          THEN (
            (
              bucket_count - 1
            ) * 1
          ) % 2
          ELSE NULL
        END
      ) / 2
    ) / 1000000 AS median_first_response_seconds,
    COUNT(CASE WHEN measure = 'human' AND NOT us IS NULL THEN 1 END) AS answered_handoffs,
    COUNT(CASE WHEN measure = 'human' AND us IS NULL THEN 1 END) AS unanswered_handoffs,
    AVG(CASE WHEN measure = 'human' THEN us ELSE NULL END) / 1000000 AS average_human_response_seconds,
    (
      MAX(
        CASE
          WHEN measure = 'human' AND bucket_rank = (
            (
              bucket_count - 1
            ) * 1
          ) // 2
          THEN us
          ELSE NULL
        END
      ) + CAST(COALESCE(
        MAX(
          CASE
            WHEN measure = 'human' AND bucket_rank = (
              (
                bucket_count - 1
              ) * 1
            ) // 2 + 1
            THEN us
            ELSE NULL
          END
        ) - MAX(
          CASE
            WHEN measure = 'human' AND bucket_rank = (
              (
                bucket_count - 1
              ) * 1
            ) // 2
            THEN us
            ELSE NULL
          END
        ),
        0
      ) AS DOUBLE) * MAX(
        CASE
          WHEN measure = 'human' AND bucket_rank = (
            (
              bucket_count - 1
            ) * 1
          ) // 2
          THEN (
            (
              bucket_count - 1
            ) * 1
          ) % 2
          ELSE NULL
        END
      ) / 2
    ) / 1000000 AS median_human_response_seconds
  FROM durations
  GROUP BY
    bucket
), whole_range AS (
  SELECT
    COUNT(CASE WHEN measure = 'turn' THEN 1 END) AS customer_turns,
    COUNT(CASE WHEN measure = 'turn' AND NOT us IS NULL THEN 1 END) AS answered_turns,
    (
      MAX(
        CASE
          WHEN measure = 'turn' AND range_rank = (
            (
              range_count - 1
            ) * 1
          ) // 2
          THEN us
          ELSE NULL
        END
      ) + CAST(COALESCE(
        MAX(
          CASE
            WHEN measure = 'turn' AND range_rank = (
              (
                range_count - 1
              ) * 1
            ) // 2 + 1
            THEN us
            ELSE NULL
          END
        ) - MAX(
          CASE
            WHEN measure = 'turn' AND range_rank = (
              (
                range_count - 1
              ) * 1
            ) // 2
            THEN us
            ELSE NULL
          END
        ),
        0
      ) AS DOUBLE) * MAX(
        CASE
          WHEN measure = 'turn' AND range_rank = (
            (
              range_count - 1
            ) * 1
          ) // 2
          THEN (
            (
              range_count - 1
            ) * 1
          ) % 2
          ELSE NULL
        END
      ) / 2
    ) / 1000000 AS median_response_time_seconds,
    (
      MAX(
        CASE
          WHEN measure = 'turn' AND range_rank = (
            (
              range_count - 1
            ) * 9
          ) // 10
          THEN us
          ELSE NULL
        END
      ) + CAST(COALESCE(
        MAX(
          CASE
            WHEN measure = 'turn' AND range_rank = (
              (
                range_count - 1
              ) * 9
            ) // 10 + 1
            THEN us
            ELSE NULL
          END
        ) - MAX(
          CASE
            WHEN measure = 'turn' AND range_rank = (
              (
                range_count - 1
              ) * 9
            ) // 10
            THEN us
            ELSE NULL
          END
        ),
        0
      ) AS DOUBLE) * MAX(
        CASE
          WHEN measure = 'turn' AND range_rank = (
            (
              range_count - 1
            ) * 9
          ) // 10
          THEN (
            (
              range_count - 1
            ) * 9
          ) % 10
          ELSE NULL
        END
      ) / 10
    ) / 1000000 AS p90_response_time_seconds,
    COUNT(CASE WHEN measure = 'first' AND NOT us IS NULL THEN 1 END) AS first_responses,
    AVG(CASE WHEN measure = 'first' THEN us ELSE NULL END) / 1000000 AS average_first_response_seconds,
    (
      MAX(
        CASE
          WHEN measure = 'first' AND range_rank = (
            (
              range_count - 1
            ) * 1
          ) // 2
          THEN us
          ELSE NULL
        END
      ) + CAST(COALESCE(
        MAX(
          CASE
            WHEN measure = 'first' AND range_rank = (
              (
                range_count - 1
              ) * 1
            ) // 2 + 1
            THEN us
            ELSE NULL
          END
        ) - MAX(
          CASE
            WHEN measure = 'first' AND range_rank = (
              (
                range_count - 1
              ) * 1
            ) // 2
            THEN us
            ELSE NULL
          END
        ),
        0
      ) AS DOUBLE) * MAX(
        CASE
          WHEN measure = 'first' AND range_rank = (
            (
              range_count - 1
            ) * 1
          ) // 2
          THEN (
            (
              range_count - 1
            ) * 1
          ) % 2
          ELSE NULL
        END
      ) / 2
    ) / 1000000 AS median_first_response_seconds,
    COUNT(CASE WHEN measure = 'human' AND NOT us IS NULL THEN 1 END) AS answered_handoffs,
    COUNT(CASE WHEN measure = 'human' AND us IS NULL THEN 1 END) AS unanswered_handoffs,
    AVG(CASE WHEN measure = 'human' THEN us ELSE NULL END) / 1000000 AS average_human_response_seconds,
    (
      MAX(
        CASE
          WHEN measure = 'human' AND range_rank = (
            (
              range_count - 1
            ) * 1
          ) // 2
          THEN us
          ELSE NULL
        END
      ) + CAST(COALESCE(
        MAX(
          CASE
            WHEN measure = 'human' AND range_rank = (
              (
                range_count - 1
              ) * 1
            ) // 2 + 1
            THEN us
            ELSE NULL
          END
        ) - MAX(
          CASE
            WHEN measure = 'human' AND range_rank = (
              (
                range_count - 1
              ) * 1
            ) // 2
            THEN us
            ELSE NULL
          END
        ),
        0
      ) AS DOUBLE) * MAX(
        CASE
          WHEN measure = 'human' AND range_rank = (
            (
              range_count - 1
            ) * 1
          ) // 2
          THEN (
            (
              range_count - 1
            ) * 1
          ) % 2
          ELSE NULL
        END
      ) / 2
    ) / 1000000 AS median_human_response_seconds
  FROM durations
)
SELECT
  *
FROM (
  SELECT
    b.bucket AS date,
    COALESCE(f.customer_turns, 0) AS customer_turns,
    COALESCE(f.answered_turns, 0) AS answered_turns,
    f.median_response_time_seconds,
    f.p90_response_time_seconds,
    COALESCE(f.first_responses, 0) AS first_responses,
    f.average_first_response_seconds,
    f.median_first_response_seconds,
    COALESCE(f.answered_handoffs, 0) AS answered_handoffs,
    COALESCE(f.unanswered_handoffs, 0) AS unanswered_handoffs,
    f.average_human_response_seconds,
    f.median_human_response_seconds
  FROM buckets AS b
  LEFT JOIN by_bucket AS f
    ON f.bucket = b.bucket
  UNION ALL
  SELECT
    CAST(NULL AS DATE) AS date,
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
  FROM whole_range
) AS answer
ORDER BY
  date NULLS FIRST
