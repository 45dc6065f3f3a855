-- facts_slot_keys for duckdb, seed layout, outlet filter off, by day
SELECT
  f.tenant_id,
  MAKE_TIMESTAMPTZ(
    (
      EPOCH_US(f.started_at) + 62135596800000000
    ) // 900000000 * 900000000 - 62135596800000000
  ) AS slot_start
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
  MAKE_TIMESTAMPTZ(
    (
      EPOCH_US(f.ts) + 62135596800000000
    ) // 900000000 * 900000000 - 62135596800000000
  ) AS slot_start
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
