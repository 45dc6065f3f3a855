-- tenant for bigquery, seed layout, outlet filter off, by day
SELECT
  t.name,
  t.timezone
FROM tenants AS t
WHERE
  LOWER(t.id) = @tenant_id
LIMIT 1
