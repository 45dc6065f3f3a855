-- name: llm_tokens_by_weekday
-- table: LLM use by local day of the week: the bot's messages and the tokens they used
--   (metadata.tokens_used, read as docs/metrics.md §1 says), and the messages that asked for a
--   human, over the range in the request's timezone.
-- grain: exactly 7 rows, ISO weekday 1 (Monday) to 7 (Sunday) of the local date.
-- granularities: range
-- params:
--   tenant_id     STRING     the tenant whose messages are read
--   outlet_id     STRING     only this outlet's conversations' messages (when the request names one)
--   tz            STRING     IANA timezone of the local dates
--   range_start   TIMESTAMP  start_date 00:00 in tz, as an instant
--   range_end     TIMESTAMP  (end_date + 1 day) 00:00 in tz, as an instant
-- columns:
--   weekday               INT64    ISO weekday, 1 = Monday .. 7 = Sunday
--   llm_messages          INT64    llm messages sent on that weekday
--   tokens_used           INT64    the sum of their metadata.tokens_used (missing or unreadable: 0)
--   handoff_requests      INT64    messages of any sender whose metadata.handoff_requested is true
{% import 'macros/custom.sql' as crm with context -%}
SELECT
  weekday,
  COUNTIF(m.sender_type = 'llm') AS llm_messages,
  COALESCE(SUM(IF(m.sender_type = 'llm', m.tokens_used, 0)), 0) AS tokens_used,
  COUNTIF(m.handoff_requested) AS handoff_requests
FROM UNNEST([{{ range(1, 8) | join(', ') }}]) AS weekday
LEFT JOIN (
  SELECT {{ crm.local_weekday('sent.timestamp') }} AS message_weekday, sent.sender_type, sent.tokens_used, sent.handoff_requested
  FROM ({{ crm.messages() }}) AS sent
) AS m ON m.message_weekday = weekday
GROUP BY weekday
ORDER BY weekday
