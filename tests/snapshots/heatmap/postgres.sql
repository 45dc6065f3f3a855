-- heatmap for postgres, seed layout, outlet filter off, by range
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
), cells AS (
  SELECT
    weekday,
    hour,
    0 AS customer_messages,
    0 AS conversations_started,
    0 AS replied_turns,
    0 AS response_us
  FROM UNNEST(ARRAY[1, 2, 3, 4, 5, 6, 7]) AS _t0(weekday)
  CROSS JOIN UNNEST(ARRAY[
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
    12,
    13,
    14,
    15,
    16,
    17,
    18,
    19,
    20,
    21,
    22,
    23
  ]) AS _t1(hour)
)
SELECT
  weekday,
  hour,
  SUM(customer_messages) AS customer_messages,
  SUM(conversations_started) AS conversations_started,
  CAST(CASE
    WHEN SUM(replied_turns) <> 0
    THEN CAST(SUM(response_us) AS DOUBLE PRECISION) / SUM(replied_turns)
    ELSE NULL
  END AS DOUBLE PRECISION) / 1000000 AS average_response_time_seconds
FROM (
  SELECT
    *
  FROM cells
  UNION ALL
  SELECT
    (
      CAST(CAST(at AS TIMESTAMPTZ) AT TIME ZONE CAST(%(tz)s AS TEXT) AS DATE) - CAST('1900-01-01' AS DATE)
    ) %% 7 + 1 AS weekday,
    CAST(EXTRACT(HOUR FROM CAST(at AS TIMESTAMPTZ) AT TIME ZONE CAST(%(tz)s AS TEXT)) AS BIGINT) AS hour,
    customer_messages,
    conversations_started,
    replied_turns,
    response_us
  FROM (
    SELECT
      ts AS at,
      1 AS customer_messages,
      0 AS conversations_started,
      0 AS replied_turns,
      0 AS response_us
    FROM (
      SELECT
        w.timestamp AS ts,
        w.sender_type,
        CASE
          WHEN w.metadata #>> '{tokens_used}' ~ '^[+-]?[0-9]{1,18}$'
          THEN CAST(w.metadata #>> '{tokens_used}' AS BIGINT)
          ELSE 0
        END AS tokens_used
      FROM conversation_messages AS w
      WHERE
        w.timestamp >= CAST(%(range_start)s AS TIMESTAMPTZ)
        AND w.timestamp < CAST(%(range_end)s AS TIMESTAMPTZ)
    ) AS message_rows
    WHERE
      sender_type = 'customer'
    UNION ALL
    SELECT
      started_at,
      0,
      1,
      0,
      0
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
    UNION ALL
    SELECT
      turn_at,
      0,
      0,
      1,
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
    WHERE
      NOT response_us IS NULL
  ) AS instants
) AS cell_rows
GROUP BY
  weekday,
  hour
ORDER BY
  weekday NULLS FIRST,
  hour NULLS FIRST
