{#-
  Exact quantiles (docs/metrics.md §7, PERCENTILE_CONT semantics), the same SQL on every
  engine. BigQuery's PERCENTILE_CONT is analytic only, PostgreSQL's an ordered-set aggregate
  (WITHIN GROUP, no window form), DuckDB has both (quantile_cont): no one spelling transpiles
  to all three, and APPROX_QUANTILES is not exact. So a quantile is read from ranks: the
  caller's rows carry `measure` (which durations), `us` (a duration in microseconds, NULL for
  rows that only count) and, per partition, a rank (0-based, in `us` order, NULL rows ranked
  apart) and the count of non-NULL values. For h = (n - 1)·p with p = num / den, the lower
  rank is ⌊h⌋ = DIV((n - 1)·num, den) and the fraction MOD((n - 1)·num, den) / den: integer
  arithmetic, so ⌊h⌋ is never off by a float's rounding.
-#}

{#- The rank and the count of the non-NULL `us` within `partition` (window expressions). -#}
{% macro rank_in(partition) -%}
ROW_NUMBER() OVER (PARTITION BY {{ partition }}, us IS NULL ORDER BY us) - 1
{%- endmacro %}

{% macro count_in(partition) -%}
COUNT(us) OVER (PARTITION BY {{ partition }})
{%- endmacro %}

{#- Quantile num/den of the `measure` rows' `us`, in seconds (an aggregate over the group);
    NULL when the group has no value. -#}
{% macro quantile_seconds(measure, num, den, rank, count) -%}
{%- set lower = 'DIV((' ~ count ~ ' - 1) * ' ~ num ~ ', ' ~ den ~ ')' -%}
{%- set lower_value = "MAX(IF(measure = '" ~ measure ~ "' AND " ~ rank ~ " = " ~ lower ~ ", us, NULL))" -%}
({{ lower_value }}
    + CAST(COALESCE(MAX(IF(measure = '{{ measure }}' AND {{ rank }} = {{ lower }} + 1, us, NULL)) - {{ lower_value }}, 0) AS FLOAT64)
    * MAX(IF(measure = '{{ measure }}' AND {{ rank }} = {{ lower }}, MOD(({{ count }} - 1) * {{ num }}, {{ den }}), NULL)) / {{ den }}
  ) / {{ MICROS_PER_SECOND }}
{%- endmacro %}
