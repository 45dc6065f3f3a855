-- name: plan
-- table: Plan the report of a period: its record, unless there is one already (a plan is
--   made once, whoever makes it).
-- grain: the row written, if any.
-- params:
--   entry         STRING     the report's name in the schedule file
--   period_start  DATE       first date of the period
--   period_end    DATE       last date of the period
--   due_at        TIMESTAMP  when it goes out
--   now           TIMESTAMP  the scheduler's clock
-- columns:
--   entry  STRING  the report planned
INSERT INTO report_deliveries (entry, period_start, period_end, due_at, status, attempts, updated_at)
SELECT @entry, @period_start, @period_end, @due_at, 'planned', 0, @now
WHERE NOT EXISTS (SELECT 1 FROM report_deliveries AS d WHERE d.entry = @entry AND d.period_start = @period_start)
RETURNING entry
