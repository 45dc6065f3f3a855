-- name: tenant
-- table: The tenant's name and default timezone, from the optional `tenants` table.
-- grain: at most one row.
-- params:
--   tenant_id  STRING  the tenant to look up
-- columns:
--   name      STRING  the tenant's display name
--   timezone  STRING  the tenant's IANA timezone, or null
SELECT t.name, t.timezone
FROM tenants AS t
-- Ids in any case (rows that other applications write); requests name them in lowercase.
WHERE LOWER(t.id) = @tenant_id
LIMIT 1
