-- name: responses
-- table: Response times (docs/metrics.md §7.1): how long customers wait for a reply, for the
--   first answer of a conversation and for a human after asking for one; medians and p90 are
--   exact (ranks, not approximations). One row per bucket, then one totals row over the whole
--   range computed from the raw rows (never a median of medians).
-- grain: one row per bucket (day, ISO week from Monday, or month; the first and last bucket
--   clipped to the range) in the request's timezone, every bucket in date order, then the
--   totals row (date null). Turns belong to the bucket of their first message, conversations
--   to the bucket of their start.
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
--   date                              DATE     first date of the bucket; null on the totals row
--   customer_turns                    INT64    customer turns starting in the bucket, answered or not
--   answered_turns                    INT64    of those, turns with a reply (a later llm or agent message, whenever)
--   median_response_time_seconds      FLOAT64  median of the answered turns' response times
--   p90_response_time_seconds         FLOAT64  90th percentile of the answered turns' response times
--   first_responses                   INT64    conversations started in the bucket with an llm or agent message (any time)
--   average_first_response_seconds    FLOAT64  mean of (first llm or agent message - started_at) over those
--   median_first_response_seconds     FLOAT64  median of the same
--   answered_handoffs                 INT64    handed-off conversations started in the bucket with an agent message after the first handoff request
--   unanswered_handoffs               INT64    handed-off conversations started in the bucket without one
--   average_human_response_seconds    FLOAT64  mean of (first agent message after the request - the request) over answered handoffs
--   median_human_response_seconds     FLOAT64  median of the same
{% import 'macros/request.sql' as r with context -%}
{% import 'macros/quantiles.sql' as q with context -%}
{#- The layout's row sources: sql/sources/seed/ or sql/sources/facts/. The rollup's sums give
    no median: its layout reads the derived tables (docs/metrics.md §7). -#}
{% set sources = 'sources/' ~ ('facts' if layout == 'rollup' else layout) ~ '/' -%}
{#- Each measure's code: integers compare faster than text, and its rows are many. #}
{% set measures = {'turn': 1, 'first': 2, 'human': 3} -%}
{#- Each column: (name, measure, figure of that measure's durations). #}
{% set columns = [
  ('customer_turns', 'turn', 'durations'),
  ('answered_turns', 'turn', 'answered'),
  ('median_response_time_seconds', 'turn', 'median_seconds'),
  ('p90_response_time_seconds', 'turn', 'p90_seconds'),
  ('first_responses', 'first', 'answered'),
  ('average_first_response_seconds', 'first', 'mean_seconds'),
  ('median_first_response_seconds', 'first', 'median_seconds'),
  ('answered_handoffs', 'human', 'answered'),
  ('unanswered_handoffs', 'human', 'unanswered'),
  ('average_human_response_seconds', 'human', 'mean_seconds'),
  ('median_human_response_seconds', 'human', 'median_seconds'),
] -%}
{#-
  Every column over a level's rows (`measure`, `us`, and for BigQuery `rank` and `n`), each
  reading its measure's durations only: one group per bucket rather than per bucket and
  measure, which PostgreSQL would sort the rows for before sorting each group's durations.
-#}
{% macro figures() -%}
{%- for name, measure, figure in columns -%}
{%- set m = 'measure = ' ~ measures[measure] -%}
{%- set value = 'IF(' ~ m ~ ', us, NULL)' -%}
{%- if figure == 'durations' -%}COUNTIF({{ m }})
{%- elif figure == 'answered' -%}COUNT({{ value }})
{%- elif figure == 'unanswered' -%}COUNTIF({{ m }} AND us IS NULL)
{%- elif figure == 'mean_seconds' -%}AVG({{ value }}) / {{ MICROS_PER_SECOND }}
{%- elif figure == 'median_seconds' -%}{{ q.quantile_seconds(0.5, value) }}
{%- else -%}{{ q.quantile_seconds(0.9, value) }}
{%- endif %} AS {{ name }}{{ ',' if not loop.last }}
      {% endfor -%}
{%- endmacro %}
WITH
  {% if layout == 'seed' %}{% include 'sources/seed/window.sql' %}
  {% endif -%}
  buckets AS (
    {{ r.buckets() }}
  ),
  cohort AS (
    SELECT {{ r.bucket_of('started_at') }} AS bucket, handoff_at, first_response_us, human_response_us
    FROM ({% include sources ~ 'cohort.sql' %}) AS cohort_rows
  ),
  {#- Every duration, in microseconds: each customer turn (NULL without a reply), each
      conversation's first response (NULL without an llm or agent message), each handed-off
      conversation's human response (NULL without a later agent message). #}
  measured AS (
    SELECT {{ r.bucket_of('turn_at') }} AS bucket, {{ measures.turn }} AS measure, response_us AS us
    FROM ({% include sources ~ 'turns.sql' %}) AS turn_rows
    UNION ALL
    SELECT bucket, {{ measures.first }}, first_response_us FROM cohort
    UNION ALL
    SELECT bucket, {{ measures.human }}, human_response_us FROM cohort WHERE handoff_at IS NOT NULL
  ),
  {#- One row per bucket, then the whole range's (bucket NULL: the totals, from the raw rows,
      never from the buckets' figures), each level ranked apart. A row of measure 0 without a
      duration stands for every bucket, so that each has its row however few durations. #}
  figures AS (
    SELECT bucket, {{ figures() }}
    FROM (
      SELECT bucket, measure, us, {{ q.rank_in('measure, bucket') }} AS rank, {{ q.count_in('measure, bucket') }} AS n
      FROM (
        SELECT bucket, measure, us FROM measured
        UNION ALL
        SELECT bucket, 0, CAST(NULL AS INT64) FROM buckets
      ) AS bucket_level
    ) AS ranked
    GROUP BY bucket
    UNION ALL
    SELECT CAST(NULL AS DATE), {{ figures() }}
    FROM (
      SELECT measure, us, {{ q.rank_in('measure') }} AS rank, {{ q.count_in('measure') }} AS n
      FROM measured
    ) AS ranked
  )
SELECT bucket AS date, {% for name, measure, figure in columns %}{{ name }}{{ ', ' if not loop.last }}{% endfor %}
FROM figures
ORDER BY date
