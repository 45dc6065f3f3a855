-- name: tenants
-- table: Every tenant of the optional `tenants` table, by name: what a development dashboard
--   offers to pick from (at most TENANTS_LISTED).
-- grain: one row per tenant row, ordered by name, then id.
-- columns:
--   id        STRING  the tenant's UUID, lowercase
--   name      STRING  the tenant's display name
--   timezone  STRING  the tenant's timezone as stored (not checked), or null
SELECT LOWER(t.id) AS id, t.name, t.timezone
FROM tenants AS t
ORDER BY t.name, LOWER(t.id)
LIMIT {{ TENANTS_LISTED }}
