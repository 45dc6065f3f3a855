-- The report scheduler's record (crm_metrics/deliveries.py): one row per scheduled report and
-- period, planned before it is due and updated as it is sent; a restart reads it, so a report
-- is neither skipped nor sent twice. Nothing else reads or writes it.
CREATE TABLE IF NOT EXISTS report_deliveries (
  entry VARCHAR NOT NULL,
  period_start DATE NOT NULL,
  period_end DATE NOT NULL,
  due_at TIMESTAMPTZ NOT NULL,
  status VARCHAR NOT NULL,
  attempts INTEGER NOT NULL,
  next_attempt_at TIMESTAMPTZ,
  last_error VARCHAR,
  sent_at TIMESTAMPTZ,
  updated_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (entry, period_start)
);
