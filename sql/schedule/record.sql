-- name: record
-- table: Record a delivery attempt of a planned report: sent, retrying (when again) or failed.
-- grain: the row updated.
-- params:
--   entry            STRING     the report's name in the schedule file
--   period_start     DATE       first date of the period
--   status           STRING     sent, retrying or failed
--   attempts         INT64      deliveries tried, this one included
--   next_attempt_at  TIMESTAMP  when to try again (retrying), else null
--   last_error       STRING     why the last attempt failed, else null
--   sent_at          TIMESTAMP  when it was sent, else null
--   now              TIMESTAMP  the scheduler's clock
-- columns:
--   entry  STRING  the report recorded
UPDATE report_deliveries
SET status = @status, attempts = @attempts, next_attempt_at = @next_attempt_at, last_error = @last_error, sent_at = @sent_at, updated_at = @now
WHERE entry = @entry AND period_start = @period_start
RETURNING entry
