-- name: delivery
-- table: The scheduler's record of one scheduled report or alert for one period (an alert's
--   anomaly: its day): whether it was planned, sent, is being retried or was given up.
-- grain: at most one row.
-- params:
--   entry         STRING  the report's name in the schedule file (an alert's: alert:NAME:METRIC)
--   period_start  DATE    first date of the period (an anomaly's day)
-- columns:
--   period_start     DATE       first date of the period
--   period_end       DATE       last date of the period
--   status           STRING     planned, retrying, sent or failed (given up)
--   attempts         INT64      deliveries tried
--   next_attempt_at  TIMESTAMP  when a failed delivery is tried again
SELECT d.period_start, d.period_end, d.status, d.attempts, d.next_attempt_at
FROM report_deliveries AS d
WHERE d.entry = @entry AND d.period_start = @period_start
