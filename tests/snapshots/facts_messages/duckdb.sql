-- facts_messages for duckdb, seed layout, outlet filter off, by day
SELECT
  LOWER(c.tenant_id) AS tenant_id,
  LOWER(c.outlet_id) AS outlet_id,
  msg.conversation_id,
  msg.id,
  msg.timestamp AS ts,
  msg.sender_type,
  CASE
    WHEN REGEXP_MATCHES((
      msg.metadata ->> '$.tokens_used'
    ), '^[+-]?[0-9]{1,18}$')
    THEN CAST(msg.metadata ->> '$.tokens_used' AS BIGINT)
    ELSE 0
  END AS tokens_used,
  COALESCE(w.turn_start, FALSE) AS turn_start,
  CASE WHEN w.turn_start THEN w.reply_at ELSE NULL END AS reply_at
FROM messages AS msg
JOIN conversations AS c
  ON c.id = msg.conversation_id
LEFT JOIN (
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
        t.conversation_id
      FROM crm_metrics_touched AS t
    )
) AS w
  ON w.conversation_id = msg.conversation_id AND w.id = msg.id
WHERE
  msg.conversation_id IN (
    SELECT
      t.conversation_id
    FROM crm_metrics_touched AS t
  )
  AND REGEXP_MATCHES(
    LOWER(c.tenant_id),
    '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
  )
ORDER BY
  tenant_id NULLS FIRST,
  msg.timestamp NULLS FIRST
