-- name: outlets
-- table: The outlets of a tenant that have conversations started in a range: what a dashboard
--   offers to filter by and a report lists (the seed has no table of outlets).
-- grain: one row per outlet, ordered by id.
-- params:
--   tenant_id    STRING     the tenant whose conversations are read
--   range_start  TIMESTAMP  start_date 00:00 in tz, as an instant
--   range_end    TIMESTAMP  (end_date + 1 day) 00:00 in tz, as an instant
-- columns:
--   outlet_id  STRING  the outlet's UUID, lowercase
{% import 'macros/request.sql' as r with context -%}
SELECT DISTINCT LOWER(c.outlet_id) AS outlet_id
FROM conversations AS c
WHERE {{ r.scope('c') }} AND c.outlet_id IS NOT NULL AND {{ r.in_range('c.started_at') }}
ORDER BY outlet_id
