-- facts_conversations for bigquery, seed layout, outlet filter off, by day
SELECT
  LOWER(c.tenant_id) AS tenant_id,
  LOWER(c.outlet_id) AS outlet_id,
  c.id AS conversation_id,
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
    FROM messages AS m
    WHERE
      JSON_VALUE(m.metadata, '$.handoff_requested') = 'true'
      AND m.conversation_id IN (
        SELECT
          t.conversation_id
        FROM crm_metrics_touched AS t
      )
  ) AS requests
  WHERE
    n = 1
) AS h
  ON h.conversation_id = c.id
WHERE
  c.id IN (
    SELECT
      t.conversation_id
    FROM crm_metrics_touched AS t
  )
  AND REGEXP_CONTAINS(
    LOWER(c.tenant_id),
    '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
  )
ORDER BY
  tenant_id,
  c.started_at
