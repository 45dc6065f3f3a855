-- heatmap for bigquery, seed layout, outlet filter off, by range
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
), cells AS (
  SELECT
    weekday,
    hour,
    0 AS customer_messages,
    0 AS conversations_started,
    0 AS replied_turns,
    0 AS response_us
  FROM UNNEST([1, 2, 3, 4, 5, 6, 7]) AS weekday
  CROSS JOIN UNNEST([
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
  ]) AS hour
)
SELECT
  weekday,
  hour,
  SUM(customer_messages) AS customer_messages,
  SUM(conversations_started) AS conversations_started,
  SAFE_DIVIDE(SUM(response_us), SUM(replied_turns)) / 1000000 AS average_response_time_seconds
FROM (
  SELECT
    *
  FROM cells
  UNION ALL
  SELECT
    MOD(DATE_DIFF(DATE(`at`, @tz), CAST('1900-01-01' AS DATE), DAY), 7) + 1 AS weekday,
    CAST(EXTRACT(HOUR FROM TIMESTAMP(DATETIME(CAST(`at` AS TIMESTAMP), @tz))) AS INT64) AS hour,
    customer_messages,
    conversations_started,
    replied_turns,
    response_us
  FROM (
    SELECT
      ts AS `at`,
      1 AS customer_messages,
      0 AS conversations_started,
      0 AS replied_turns,
      0 AS response_us
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
  ) AS instants
) AS cell_rows
GROUP BY
  weekday,
  hour
ORDER BY
  weekday,
  hour
