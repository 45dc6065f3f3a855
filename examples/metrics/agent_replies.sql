-- name: agent_replies
-- table: Replies per agent: the customer turns (docs/metrics.md §3) starting in the range
--   whose first reply came from an agent, by the agent's sender_id, with the median time
--   that agent took to answer.
-- grain: one row per agent sender_id that answered a turn starting in the range, ordered by
--   sender_id byte by byte; replies from agent messages without a sender_id last (sender_id null).
-- granularities: range
-- params:
--   tenant_id     STRING     the tenant whose turns are read
--   outlet_id     STRING     only this outlet's conversations (when the request names one)
--   range_start   TIMESTAMP  start_date 00:00 in tz, as an instant
--   range_end     TIMESTAMP  (end_date + 1 day) 00:00 in tz, as an instant
-- columns:
--   sender_id                  STRING    the agent (messages.sender_id)
--   replies                    INT64     customer turns starting in the range that this agent answered first
--   median_response_seconds    FLOAT64   median of those turns' response times (exact, PERCENTILE_CONT)
{% import 'macros/custom.sql' as crm with context -%}
SELECT sender_id, COUNT(*) AS replies, {{ crm.quantile_seconds(0.5) }} AS median_response_seconds
FROM (
  SELECT sender_id, us, {{ crm.rank_in('sender_id') }} AS rank, {{ crm.count_in('sender_id') }} AS n
  FROM (
    SELECT t.reply_sender_id AS sender_id, t.response_us AS us
    FROM ({{ crm.turns() }}) AS t
    WHERE t.reply_sender_type = 'agent'
  ) AS answered
) AS ranked
GROUP BY sender_id
ORDER BY CAST(sender_id AS BYTES) NULLS LAST
