-- name: conversation_metrics
-- table: Conversation metrics, the dashboard's "conversations" series, by the conversation's start.
-- grain: one row per bucket (day, ISO week from Monday, or month; the first and last bucket
--   clipped to the range) in the request's timezone. Every bucket of the range appears, in date
--   order; empty buckets have zero counts and null rates and averages.
-- granularities: day week month
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
-- columns:
--   date                             DATE     first date of the bucket
--   total_conversations              INT64    conversations started in the bucket
--   active_conversations             INT64    of those, current status = 'active'
--   resolved_conversations           INT64    of those, current status = 'resolved'
--   handed_off_conversations         INT64    of those, current status = 'handed_off'
--   average_duration_minutes         FLOAT64  mean of (ended_at - started_at) in fractional minutes, over those with ended_at
--   resolution_rate                  FLOAT64  resolved_conversations / total_conversations
{% import 'macros/request.sql' as r with context -%}
{% import 'macros/series.sql' as m with context -%}
{% import 'macros/rollup.sql' as rollup with context -%}
{#- The layout's row sources: sql/sources/seed/ or sql/sources/facts/ (the rollup reads metric_slots). -#}
{% set sources = 'sources/' ~ layout ~ '/' -%}
{% if layout == 'rollup' -%}
{{ rollup.series_from_slots(['total_conversations', 'active_conversations', 'resolved_conversations', 'handed_off_conversations', 'average_duration_minutes', 'resolution_rate']) }}
{% else -%}
WITH
  {% if layout == 'seed' %}{% include 'sources/seed/window.sql' %}
  {% endif -%}
  buckets AS (
    {{ r.buckets() }}
  ),
  conversation_aggregates AS (
    {% call m.conversation_aggregates() %}{% include sources ~ 'conversations.sql' %}{% endcall %}
  )
SELECT
  b.bucket AS date,
  {{ m.conversation_columns('c') }}
FROM buckets AS b
LEFT JOIN conversation_aggregates AS c ON c.bucket = b.bucket
ORDER BY date
{% endif -%}
