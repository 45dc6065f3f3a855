-- name: failing
-- table: Scheduled reports whose latest delivery failed: being retried, or given up with no
--   later report of the same entry sent since (what /health reports).
-- grain: one row per failing report and period.
-- columns:
--   entry         STRING  the report's name in the schedule file
--   period_start  DATE    first date of the period
--   period_end    DATE    last date of the period
--   status        STRING  retrying or failed
--   attempts      INT64   deliveries tried
--   last_error    STRING  why the last attempt failed
SELECT d.entry, d.period_start, d.period_end, d.status, d.attempts, d.last_error
FROM report_deliveries AS d
WHERE d.status IN ('retrying', 'failed')
  AND NOT EXISTS (
    SELECT 1 FROM report_deliveries AS later
    WHERE later.entry = d.entry AND later.period_start > d.period_start AND later.status = 'sent'
  )
ORDER BY d.entry, d.period_start
