-- tenant for duckdb, seed layout, outlet filter off, by day
SELECT
  t.name,
  t.timezone
FROM tenants AS t
WHERE
  LOWER(t.id) = CAST($tenant_id AS TEXT)
LIMIT 1
