-- name: daily_values
-- table: The daily values that anomaly detection and the forecast read (docs/anomalies.md):
--   the seven watched metrics of each local day with the counts behind them (the volume guard's
--   denominators). Run it from the first day of the history you want (the library reads
--   ANOMALY_HISTORY_WEEKS weeks before the requested range) to the range's last day.
-- grain: one row per local day of the range, in date order; empty days have zero counts and
--   null rates and averages. Conversations by their start day (the §7.2 cohort), messages and
--   costs by their timestamp, response times by the turn's start.
-- granularities: day
-- params:
--   tenant_id                     STRING     the tenant whose rows are read
--   outlet_id                     STRING     only conversations of this outlet, and their messages (only when the outlet filter is on)
--   start_date                    DATE       first local date of the range, inclusive
--   end_date                      DATE       last local date of the range, inclusive
--   tz                            STRING     IANA timezone in which days are cut
--   range_start                   TIMESTAMP  start_date 00:00 in tz, as an instant
--   range_end                     TIMESTAMP  (end_date + 1 day) 00:00 in tz, as an instant
--   lookaround_start              TIMESTAMP  with a look-around bound (LOOKAROUND_DAYS): range_start minus that many days; no row before it is read
--   lookaround_end                TIMESTAMP  range_end plus that many days; no row from it on is read
--   tz_change_1                   INT64      with known offsets: the first UTC-offset change in the range, in epoch microseconds (unused: the range's end)
--   tz_change_2                   INT64      the second one
--   tz_change_3                   INT64      the third one
--   tz_change_4                   INT64      the fourth one
--   tz_offset_0                   INT64      the UTC offset before tz_change_1, in microseconds
--   tz_offset_1                   INT64      the UTC offset from tz_change_1
--   tz_offset_2                   INT64      the UTC offset from tz_change_2
--   tz_offset_3                   INT64      the UTC offset from tz_change_3
--   tz_offset_4                   INT64      the UTC offset from tz_change_4
--   llm_price_per_million_tokens  FLOAT64    LLM price in dollars per million tokens (default 0.15)
--   whatsapp_price_per_message    FLOAT64    WhatsApp price in dollars per message (default 0.01)
-- columns:
--   date                           DATE     the local day
--   total_conversations            INT64    conversations started in the day
--   resolved_conversations         INT64    of those, current status = 'resolved'
--   resolution_rate                FLOAT64  resolved_conversations / total_conversations
--   total_handoffs                 INT64    of those, with a handoff request (metadata.handoff_requested JSON true or "true")
--   handoff_rate                   FLOAT64  total_handoffs / total_conversations
--   contained_conversations        INT64    of those, status = 'resolved', without a handoff request and without an agent message
--   containment_rate               FLOAT64  contained_conversations / total_conversations
--   total_messages                 INT64    messages sent in the day, of any sender type
--   answered_turns                 INT64    customer turns starting in the day that have a reply (even after the day)
--   average_response_time_seconds  FLOAT64  mean seconds from the start of those turns to their first llm or agent reply
--   total_cost                     FLOAT64  tokens of the day's llm messages x LLM price + the day's messages x WhatsApp price
{% import 'macros/request.sql' as r with context -%}
{% import 'macros/series.sql' as m with context -%}
{#- The layout's row sources: sql/sources/seed/ or sql/sources/facts/. The conversations come
    from the cohort source (the same rows as §7.2's outcomes: status, first handoff request,
    agent messages), so containment needs no second scan. The rollup layout reads the derived
    tables, as outcomes does: its slots keep no containment. -#}
{% set sources = 'sources/' ~ ('facts' if layout == 'rollup' else layout) ~ '/' -%}
{%- set tokens, messages = 'COALESCE(n.total_tokens_used, 0)', 'COALESCE(n.total_messages, 0)' -%}
WITH
  {% if layout == 'seed' %}{% include 'sources/seed/window.sql' %}
  {% endif -%}
  buckets AS (
    {{ r.buckets() }}
  ),
  cohort_aggregates AS (
    SELECT
      {{ r.bucket_of('started_at') }} AS bucket,
      COUNT(*) AS total_conversations,
      COUNTIF(status = 'resolved') AS resolved_conversations,
      COUNT(handoff_at) AS total_handoffs,
      COUNTIF(status = 'resolved' AND handoff_at IS NULL AND agent_messages = 0) AS contained_conversations
    FROM ({% include sources ~ 'cohort.sql' %}) AS cohort_rows
    GROUP BY bucket
  ),
  message_aggregates AS (
    {% call m.message_aggregates() %}{% include sources ~ 'messages.sql' %}{% endcall %}
  ),
  turn_aggregates AS (
    SELECT
      {{ r.bucket_of('turn_at') }} AS bucket,
      COUNT(*) AS answered_turns,
      AVG(response_us) / {{ MICROS_PER_SECOND }} AS average_response_time_seconds
    FROM ({% include sources ~ 'turns.sql' %}) AS turn_rows
    WHERE response_us IS NOT NULL
    GROUP BY bucket
  )
SELECT
  b.bucket AS date,
  COALESCE(c.total_conversations, 0) AS total_conversations,
  COALESCE(c.resolved_conversations, 0) AS resolved_conversations,
  SAFE_DIVIDE(c.resolved_conversations, c.total_conversations) AS resolution_rate,
  COALESCE(c.total_handoffs, 0) AS total_handoffs,
  SAFE_DIVIDE(c.total_handoffs, c.total_conversations) AS handoff_rate,
  COALESCE(c.contained_conversations, 0) AS contained_conversations,
  SAFE_DIVIDE(c.contained_conversations, c.total_conversations) AS containment_rate,
  {{ messages }} AS total_messages,
  COALESCE(t.answered_turns, 0) AS answered_turns,
  t.average_response_time_seconds,
  {{ m.llm_cost(tokens) }} + {{ m.whatsapp_cost(messages) }} AS total_cost
FROM buckets AS b
LEFT JOIN cohort_aggregates AS c ON c.bucket = b.bucket
LEFT JOIN message_aggregates AS n ON n.bucket = b.bucket
LEFT JOIN turn_aggregates AS t ON t.bucket = b.bucket
ORDER BY date
