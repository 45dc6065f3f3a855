-- name: handoffs_by_trigger
-- table: Handoffs to a human by what triggered them: the conversations started in the range
--   that asked for an agent (docs/metrics.md §3, Handoffs), by the trigger of their first
--   handoff request, with the median time from the conversation's start to that request.
-- grain: one row per trigger that occurs: keyword, confidence, or other (any other value, or
--   none), ordered by trigger.
-- granularities: range
-- params:
--   tenant_id     STRING     the tenant whose conversations are read
--   outlet_id     STRING     only this outlet's conversations (when the request names one)
--   range_start   TIMESTAMP  start_date 00:00 in tz, as an instant
--   range_end     TIMESTAMP  (end_date + 1 day) 00:00 in tz, as an instant
-- columns:
--   handoff_trigger              STRING    keyword, confidence or other
--   handoffs                     INT64     handed-off conversations started in the range with that trigger
--   median_minutes_to_handoff    FLOAT64   median of (first handoff request - started_at), in minutes (exact)
{% import 'macros/custom.sql' as crm with context -%}
SELECT handoff_trigger, COUNT(*) AS handoffs, {{ crm.quantile_seconds(0.5) }} / 60 AS median_minutes_to_handoff
FROM (
  SELECT handoff_trigger, us, {{ crm.rank_in('handoff_trigger') }} AS rank, {{ crm.count_in('handoff_trigger') }} AS n
  FROM (
    SELECT
      CASE WHEN h.handoff_trigger IN ('keyword', 'confidence') THEN h.handoff_trigger ELSE 'other' END AS handoff_trigger,
      TIMESTAMP_DIFF(h.handoff_at, h.started_at, MICROSECOND) AS us
    FROM ({{ crm.handoffs() }}) AS h
  ) AS timed
) AS ranked
GROUP BY handoff_trigger
ORDER BY handoff_trigger
