-- name: messages_by_local_hour
-- table: Messages sent in the range by local hour of day, in the request's timezone: when
--   customers write, and when the bot and the agents answer.
-- grain: exactly 24 rows, hour 0-23 of the local wall-clock time (a repeated hour counts both
--   instants, a skipped one stays empty), over the whole range.
-- granularities: range
-- params:
--   tenant_id     STRING     the tenant whose messages are counted
--   outlet_id     STRING     only this outlet's conversations' messages (when the request names one)
--   tz            STRING     IANA timezone of the local hours
--   range_start   TIMESTAMP  start_date 00:00 in tz, as an instant
--   range_end     TIMESTAMP  (end_date + 1 day) 00:00 in tz, as an instant
-- columns:
--   hour                 INT64    local hour, 0-23
--   messages             INT64    all messages sent in that hour
--   customer_messages    INT64    of those, sent by customers
--   agent_messages       INT64    of those, sent by human agents
{% import 'macros/custom.sql' as crm with context -%}
SELECT
  hour,
  COUNT(m.sender_type) AS messages,
  COUNTIF(m.sender_type = 'customer') AS customer_messages,
  COUNTIF(m.sender_type = 'agent') AS agent_messages
FROM UNNEST([{{ range(24) | join(', ') }}]) AS hour
LEFT JOIN (
  SELECT {{ crm.local_hour('sent.timestamp') }} AS message_hour, sent.sender_type
  FROM ({{ crm.messages() }}) AS sent
) AS m ON m.message_hour = hour
GROUP BY hour
ORDER BY hour
