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
{#- The figures of a group of `durations` rows, ranked by `rank` within `count`. -#}
{% macro figures(rank, count) -%}
COUNTIF(measure = 'turn') AS customer_turns,
    COUNTIF(measure = 'turn' AND us IS NOT NULL) AS answered_turns,
    {{ q.quantile_seconds('turn', 1, 2, rank, count) }} AS median_response_time_seconds,
    {{ q.quantile_seconds('turn', 9, 10, rank, count) }} AS p90_response_time_seconds,
    COUNTIF(measure = 'first' AND us IS NOT NULL) AS first_responses,
    AVG(IF(measure = 'first', us, NULL)) / {{ MICROS_PER_SECOND }} AS average_first_response_seconds,
    {{ q.quantile_seconds('first', 1, 2, rank, count) }} AS median_first_response_seconds,
    COUNTIF(measure = 'human' AND us IS NOT NULL) AS answered_handoffs,
    COUNTIF(measure = 'human' AND us IS NULL) AS unanswered_handoffs,
    AVG(IF(measure = 'human', us, NULL)) / {{ MICROS_PER_SECOND }} AS average_human_response_seconds,
    {{ q.quantile_seconds('human', 1, 2, rank, count) }} AS median_human_response_seconds
{%- endmacro %}
{% set columns = ['customer_turns', 'answered_turns', 'median_response_time_seconds', 'p90_response_time_seconds', 'first_responses', 'average_first_response_seconds', 'median_first_response_seconds', 'answered_handoffs', 'unanswered_handoffs', 'average_human_response_seconds', 'median_human_response_seconds'] -%}
{% set counts = ['customer_turns', 'answered_turns', 'first_responses', 'answered_handoffs', 'unanswered_handoffs'] -%}
WITH
  buckets AS (
    {{ r.buckets() }}
  ),
  cohort AS (
    SELECT {{ r.bucket_of('started_at') }} AS bucket, started_at, handoff_at, first_response_at, human_response_at
    FROM ({% include sources ~ 'cohort.sql' %}) AS cohort_rows
  ),
  {#- Every duration: 'turn' (each customer turn; NULL without a reply), 'first' (each
      conversation; NULL without an llm or agent message), 'human' (each handed-off
      conversation; NULL without a later agent message); ranked in its bucket and in the range. #}
  durations AS (
    SELECT
      bucket,
      measure,
      us,
      {{ q.rank_in('measure, bucket') }} AS bucket_rank,
      {{ q.count_in('measure, bucket') }} AS bucket_count,
      {{ q.rank_in('measure') }} AS range_rank,
      {{ q.count_in('measure') }} AS range_count
    FROM (
      SELECT {{ r.bucket_of('turn_at') }} AS bucket, 'turn' AS measure, TIMESTAMP_DIFF(reply_at, turn_at, MICROSECOND) AS us
      FROM ({% include sources ~ 'turns.sql' %}) AS turn_rows
      UNION ALL
      SELECT bucket, 'first', TIMESTAMP_DIFF(first_response_at, started_at, MICROSECOND) FROM cohort
      UNION ALL
      SELECT bucket, 'human', TIMESTAMP_DIFF(human_response_at, handoff_at, MICROSECOND) FROM cohort WHERE handoff_at IS NOT NULL
    ) AS measured
  ),
  by_bucket AS (
    SELECT bucket, {{ figures('bucket_rank', 'bucket_count') }}
    FROM durations
    GROUP BY bucket
  ),
  whole_range AS (
    SELECT {{ figures('range_rank', 'range_count') }}
    FROM durations
  )
SELECT *
FROM (
  SELECT
    b.bucket AS date,
    {% for c in columns %}{{ 'COALESCE(f.' ~ c ~ ', 0) AS ' ~ c if c in counts else 'f.' ~ c }}{{ ',' if not loop.last }}
    {% endfor %}
  FROM buckets AS b
  LEFT JOIN by_bucket AS f ON f.bucket = b.bucket
  UNION ALL
  SELECT CAST(NULL AS DATE) AS date, {{ columns | join(', ') }}
  FROM whole_range
) AS answer
ORDER BY date
