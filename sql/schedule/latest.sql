-- name: latest
-- table: The scheduler's latest record of one scheduled report: the period it plans to send
--   next, or the last one it sent or gave up.
-- grain: at most one row.
-- params:
--   entry  STRING  the report's name in the schedule file
-- columns:
--   period_start     DATE       first date of the period
--   period_end       DATE       last date of the period
--   status           STRING     planned, retrying, sent or failed (given up)
--   attempts         INT64      deliveries tried
--   next_attempt_at  TIMESTAMP  when a failed delivery is tried again
SELECT d.period_start, d.period_end, d.status, d.attempts, d.next_attempt_at
FROM report_deliveries AS d
WHERE d.entry = @entry
ORDER BY d.period_start DESC
LIMIT 1
