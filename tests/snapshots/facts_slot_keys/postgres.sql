-- facts_slot_keys for postgres, seed layout, outlet filter off, by day
SELECT
  f.tenant_id,
  TO_TIMESTAMP(
    CAST(CAST(CAST(EXTRACT(EPOCH FROM f.started_at) * 1000000 AS BIGINT) + 62135596800000000 AS BIGINT) / 900000000 * 900000000 - 62135596800000000 AS BIGINT) / 1000000
  ) + (
    CAST(CAST(CAST(EXTRACT(EPOCH FROM f.started_at) * 1000000 AS BIGINT) + 62135596800000000 AS BIGINT) / 900000000 * 900000000 - 62135596800000000 AS BIGINT) %% 1000000
  ) * INTERVAL '1 MICROSECOND' AS slot_start
FROM conversation_facts AS f
WHERE
  f.conversation_id IN (
    SELECT
      t.conversation_id
    FROM crm_metrics_touched AS t
  )
UNION
SELECT
  f.tenant_id,
  TO_TIMESTAMP(
    CAST(CAST(CAST(EXTRACT(EPOCH FROM f.ts) * 1000000 AS BIGINT) + 62135596800000000 AS BIGINT) / 900000000 * 900000000 - 62135596800000000 AS BIGINT) / 1000000
  ) + (
    CAST(CAST(CAST(EXTRACT(EPOCH FROM f.ts) * 1000000 AS BIGINT) + 62135596800000000 AS BIGINT) / 900000000 * 900000000 - 62135596800000000 AS BIGINT) %% 1000000
  ) * INTERVAL '1 MICROSECOND' AS slot_start
FROM message_facts AS f
WHERE
  f.tenant_id IN (
    SELECT
      c.tenant_id
    FROM conversation_facts AS c
    WHERE
      c.conversation_id IN (
        SELECT
          t.conversation_id
        FROM crm_metrics_touched AS t
      )
  )
  AND f.conversation_id IN (
    SELECT
      t.conversation_id
    FROM crm_metrics_touched AS t
  )
