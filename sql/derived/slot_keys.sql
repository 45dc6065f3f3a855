-- name: slot_keys
-- table: The (tenant, 15-minute slot) pairs of `metric_slots` that the conversations listed in
--   `crm_metrics_touched` feed: the slot of each one's start and of each of its messages, read
--   from the derived tables. A load collects them before and after it rewrites those
--   conversations' facts, then recomputes exactly these rollup rows (sql/facts_slots.sql).
-- grain: one row per tenant and slot (duplicates possible).
-- columns:
--   tenant_id   STRING     the tenant
--   slot_start  TIMESTAMP  the slot's first instant (UTC, on a 15-minute bound)
{% import 'macros/rollup.sql' as m with context -%}
SELECT f.tenant_id, {{ m.slot('f.started_at') }} AS slot_start
FROM conversation_facts AS f
WHERE f.conversation_id IN (SELECT t.conversation_id FROM crm_metrics_touched AS t)
UNION DISTINCT
SELECT f.tenant_id, {{ m.slot('f.ts') }} AS slot_start
FROM message_facts AS f
-- A message's facts carry its conversation's tenant: looking in those tenants only lets the
-- store skip other tenants' row groups. A join with the distinct tenants, not `IN`: PostgreSQL
-- planned the `IN` as a lookup of the tenant's conversations per message row, minutes for a
-- batch of 2,000 conversations of a large tenant.
JOIN (
  SELECT DISTINCT c.tenant_id FROM conversation_facts AS c
  WHERE c.conversation_id IN (SELECT t.conversation_id FROM crm_metrics_touched AS t)
) AS k ON k.tenant_id = f.tenant_id
WHERE f.conversation_id IN (SELECT t.conversation_id FROM crm_metrics_touched AS t)
