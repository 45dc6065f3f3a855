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
WITH
  {% if layout == 'seed' %}{% include 'sources/seed/window.sql' %}
  {% endif -%}
  buckets AS (
    {{ r.buckets() }}
  )
  {#-
  Two groupings, each by ROLLUP (bucket): once per bucket and once over the whole range (bucket
  NULL: the totals, from the raw rows, never from the buckets' figures). The customer turns
  alone (`response_us`, NULL without a reply), and the conversations started in the range
  (`first_us`, NULL without an llm or agent message; `human_us`, NULL unless handed off and
  answered) with a row without either for every bucket, so that each has its row however few
  durations; the turns' figures join them by bucket. Grouped apart, PostgreSQL sorts the turns
  (most of the rows) by bucket without the conversations' columns, and each quantile reads
  its column only (bench's largest tenant, 30 days: 51 -> 47 ms; DuckDB the same). BigQuery
  reads the quantiles from ranks at both levels, which crm_metrics/dialects.py adds for it
  alone (_rollup_ranks).
-#}
, turns AS (
    SELECT
      bucket,
      COUNT(*) AS customer_turns,
      COUNT(response_us) AS answered_turns,
      {{ q.quantile_seconds(0.5, 'response_us') }} AS median_response_time_seconds,
      {{ q.quantile_seconds(0.9, 'response_us') }} AS p90_response_time_seconds
    FROM (
      SELECT {{ r.bucket_of('turn_at') }} AS bucket, response_us
      FROM ({% include sources ~ 'turns.sql' %}) AS turn_rows
    ) AS turn_buckets
    GROUP BY ROLLUP (bucket)
  )
SELECT
  c.bucket AS date,
  COALESCE(t.customer_turns, 0) AS customer_turns,
  COALESCE(t.answered_turns, 0) AS answered_turns,
  t.median_response_time_seconds,
  t.p90_response_time_seconds,
  c.first_responses,
  c.average_first_response_seconds,
  c.median_first_response_seconds,
  c.answered_handoffs,
  c.unanswered_handoffs,
  c.average_human_response_seconds,
  c.median_human_response_seconds
FROM (
  SELECT
    bucket,
    COUNT(first_us) AS first_responses,
    AVG(first_us) / {{ MICROS_PER_SECOND }} AS average_first_response_seconds,
    {{ q.quantile_seconds(0.5, 'first_us') }} AS median_first_response_seconds,
    COUNT(human_us) AS answered_handoffs,
    COUNTIF(handed AND human_us IS NULL) AS unanswered_handoffs,
    AVG(human_us) / {{ MICROS_PER_SECOND }} AS average_human_response_seconds,
    {{ q.quantile_seconds(0.5, 'human_us') }} AS median_human_response_seconds
  FROM (
    SELECT {{ r.bucket_of('started_at') }} AS bucket, first_response_us AS first_us, human_response_us AS human_us, handoff_at IS NOT NULL AS handed
    FROM ({% include sources ~ 'cohort.sql' %}) AS cohort_rows
    UNION ALL
    SELECT bucket, CAST(NULL AS INT64), CAST(NULL AS INT64), FALSE
    FROM buckets
  ) AS measured
  GROUP BY ROLLUP (bucket)
) AS c
LEFT JOIN turns AS t ON t.bucket = c.bucket OR (t.bucket IS NULL AND c.bucket IS NULL)
ORDER BY date
