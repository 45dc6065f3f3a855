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
{#- Each column: (name, measure, figure of that measure's group, is a count). #}
{% set columns = [
  ('customer_turns', 'turn', 'durations', True),
  ('answered_turns', 'turn', 'answered', True),
  ('median_response_time_seconds', 'turn', 'median_seconds', False),
  ('p90_response_time_seconds', 'turn', 'p90_seconds', False),
  ('first_responses', 'first', 'answered', True),
  ('average_first_response_seconds', 'first', 'mean_seconds', False),
  ('median_first_response_seconds', 'first', 'median_seconds', False),
  ('answered_handoffs', 'human', 'answered', True),
  ('unanswered_handoffs', 'human', 'unanswered', True),
  ('average_human_response_seconds', 'human', 'mean_seconds', False),
  ('median_human_response_seconds', 'human', 'median_seconds', False),
] -%}
WITH
  {% if layout == 'seed' %}{% include 'sources/seed/window.sql' %}
  {% endif -%}
  buckets AS (
    {{ r.buckets() }}
  ),
  cohort AS (
    SELECT {{ r.bucket_of('started_at') }} AS bucket, started_at, handoff_at, first_response_at, human_response_at
    FROM ({% include sources ~ 'cohort.sql' %}) AS cohort_rows
  ),
  {#- Every duration: 'turn' (each customer turn; NULL without a reply), 'first' (each
      conversation; NULL without an llm or agent message), 'human' (each handed-off
      conversation; NULL without a later agent message). #}
  measured AS (
    SELECT {{ r.bucket_of('turn_at') }} AS bucket, 'turn' AS measure, TIMESTAMP_DIFF(reply_at, turn_at, MICROSECOND) AS us
    FROM ({% include sources ~ 'turns.sql' %}) AS turn_rows
    UNION ALL
    SELECT bucket, 'first', TIMESTAMP_DIFF(first_response_at, started_at, MICROSECOND) FROM cohort
    UNION ALL
    SELECT bucket, 'human', TIMESTAMP_DIFF(human_response_at, handoff_at, MICROSECOND) FROM cohort WHERE handoff_at IS NOT NULL
  ),
  {#- Each duration twice: in its bucket, and in the whole range (bucket NULL: the totals, from
      the raw rows, never from the buckets' figures); ranked within its measure and bucket. #}
  ranked AS (
    SELECT bucket, measure, us, {{ q.rank_in('measure, bucket') }} AS rank, {{ q.count_in('measure, bucket') }} AS n
    FROM (
      SELECT bucket, measure, us FROM measured
      UNION ALL
      SELECT CAST(NULL AS DATE), measure, us FROM measured
    ) AS both_levels
  ),
  figures AS (
    SELECT
      bucket,
      measure,
      COUNT(*) AS durations,
      COUNT(us) AS answered,
      COUNT(*) - COUNT(us) AS unanswered,
      AVG(us) / {{ MICROS_PER_SECOND }} AS mean_seconds,
      {{ q.quantile_seconds(0.5) }} AS median_seconds,
      {{ q.quantile_seconds(0.9) }} AS p90_seconds
    FROM ranked
    GROUP BY bucket, measure
  ),
  by_bucket AS (
    SELECT
      bucket,
      {% for name, measure, figure, count in columns %}MAX(IF(measure = '{{ measure }}', {{ figure }}, NULL)) AS {{ name }}{{ ',' if not loop.last }}
      {% endfor %}
    FROM figures
    GROUP BY bucket
  )
SELECT *
FROM (
  SELECT
    b.bucket AS date,
    {% for name, measure, figure, count in columns %}{{ 'COALESCE(f.' ~ name ~ ', 0) AS ' ~ name if count else 'f.' ~ name }}{{ ',' if not loop.last }}
    {% endfor %}
  FROM buckets AS b
  LEFT JOIN by_bucket AS f ON f.bucket = b.bucket
  UNION ALL
  SELECT
    CAST(NULL AS DATE) AS date,
    {% for name, measure, figure, count in columns %}{{ 'COALESCE(f.' ~ name ~ ', 0) AS ' ~ name if count else 'f.' ~ name }}{{ ',' if not loop.last }}
    {% endfor %}
  FROM (SELECT 1 AS one) AS range_row
  LEFT JOIN by_bucket AS f ON f.bucket IS NULL
) AS answer
ORDER BY date
