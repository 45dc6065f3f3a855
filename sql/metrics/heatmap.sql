-- name: heatmap
-- table: Heat map (docs/metrics.md §7.5): customer messages, conversation starts and mean
--   response time by local weekday and hour over the whole range.
-- grain: exactly 168 rows, one per cell: ISO weekday (1 = Monday .. 7 = Sunday), then local
--   hour 0-23, in the request's timezone. An instant belongs to the weekday and hour of its
--   local wall-clock time: a repeated hour counts both instants, a skipped one stays empty.
-- granularities: range
-- params:
--   tenant_id                     STRING     the tenant whose rows are read
--   outlet_id                     STRING     only conversations of this outlet, and their messages (only when the outlet filter is on)
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
--   weekday                           INT64    ISO weekday, 1 = Monday .. 7 = Sunday
--   hour                              INT64    local hour, 0-23
--   customer_messages                 INT64    customer messages sent in the range and in the cell
--   conversations_started             INT64    conversations started in the range and in the cell
--   average_response_time_seconds     FLOAT64  mean response time of the answered customer turns starting in the range and in the cell
{% import 'macros/request.sql' as r with context -%}
{% import 'macros/rollup.sql' as rollup with context -%}
{% set sources = 'sources/' ~ layout ~ '/' -%}
{% set MICROS_PER_HOUR = MICROS_PER_MINUTE * 60 -%}
{#-
  The ISO weekday and the local hour of the instant `at` of each row of `rows`. With `offsets`
  (the range's UTC offsets known, as for local dates in macros/request.sql) integer arithmetic
  on local microseconds since 1900-01-01, a Monday, computed once a row; else the engine's
  time zone conversion.
-#}
{% macro cells_of(rows) -%}
{%- if offsets -%}
SELECT MOD(DIV(local_us, {{ MICROS_PER_DAY }}), 7) + 1 AS weekday, DIV(MOD(local_us, {{ MICROS_PER_DAY }}), {{ MICROS_PER_HOUR }}) AS hour, customer_messages, conversations_started, replied_turns, response_us
      FROM (
        SELECT UNIX_MICROS(at) + {{ r.utc_offset('at') }} + {{ MICROS_FROM_1900_TO_EPOCH }} AS local_us, customer_messages, conversations_started, replied_turns, response_us
        FROM ({{ rows }}) AS instants
      ) AS local_rows
{%- else -%}
SELECT
        MOD(DATE_DIFF(DATE(at, @tz), DATE '1900-01-01', DAY), 7) + 1 AS weekday,
        {#- PostgreSQL's EXTRACT is a numeric: the placeholder cells' hours are integers. #}
        CAST(EXTRACT(HOUR FROM CAST(at AS TIMESTAMP) AT TIME ZONE @tz) AS INT64) AS hour,
        customer_messages, conversations_started, replied_turns, response_us
      FROM ({{ rows }}) AS instants
{%- endif -%}
{%- endmacro %}
{% set events -%}
{%- if layout == 'rollup' -%}
{#- A 15-minute UTC slot lies in one local hour: offsets and their changes fall on slot
    bounds wherever the rollup answers (crm_metrics/planning.py on_slots). -#}
SELECT r.slot_start AS at, r.customer_messages, r.conversations AS conversations_started, r.replied_turns, r.response_us
        {{ rollup.slots_in_range() }}
{%- else -%}
SELECT ts AS at, 1 AS customer_messages, 0 AS conversations_started, 0 AS replied_turns, 0 AS response_us
        FROM ({% include sources ~ 'messages.sql' %}) AS message_rows
        WHERE sender_type = 'customer'
        UNION ALL
        SELECT started_at, 0, 1, 0, 0
        FROM ({% include sources ~ 'conversations.sql' %}) AS conversation_rows
        UNION ALL
        SELECT turn_at, 0, 0, 1, response_us
        FROM ({% include sources ~ 'turns.sql' %}) AS turn_rows
        WHERE response_us IS NOT NULL
{%- endif -%}
{%- endset %}
WITH
  {% if layout == 'seed' %}{% include 'sources/seed/window.sql' %}
  {% endif -%}
  {#- Every cell once with nothing in it, so that all 168 have their row without a join. #}
  cells AS (
    SELECT weekday, hour, 0 AS customer_messages, 0 AS conversations_started, 0 AS replied_turns, 0 AS response_us
    FROM UNNEST([{{ range(1, 8) | join(', ') }}]) AS weekday
    CROSS JOIN UNNEST([{{ range(24) | join(', ') }}]) AS hour
  )
SELECT
  weekday,
  hour,
  SUM(customer_messages) AS customer_messages,
  SUM(conversations_started) AS conversations_started,
  SAFE_DIVIDE(SUM(response_us), SUM(replied_turns)) / {{ MICROS_PER_SECOND }} AS average_response_time_seconds
FROM (
  SELECT * FROM cells
  UNION ALL
  {{ cells_of(events) }}
) AS cell_rows
GROUP BY weekday, hour
ORDER BY weekday, hour
