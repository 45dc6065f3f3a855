{#-
  Exact quantiles (docs/metrics.md §7, PERCENTILE_CONT semantics), no approximation on any
  engine. A template writes the aggregate `PERCENTILE_CONT(us, p)`: PostgreSQL's meaning (an
  ordered-set aggregate, `WITHIN GROUP`) and DuckDB's (`quantile_cont`), which sqlglot spells
  for each. BigQuery's PERCENTILE_CONT is analytic only, so crm_metrics/dialects.py rewrites
  the aggregate for BigQuery into ranks: the grouped rows must carry `rank` (the 0-based
  position of their `us` in the group, NULLs ranked apart) and `n` (the group's count of
  non-NULL `us`), which rank_in and count_in give over the group's partition. DuckDB and
  PostgreSQL never read those two columns, and their planners drop them. A quantile of another
  column in a `GROUP BY ROLLUP (key)` (sql/metrics/responses.sql) needs no ranks from the
  template: the BigQuery rewrite adds that column's, for key's groups and for all rows.
-#}

{#- The rank and the count of the non-NULL `us` within `partition` (window expressions). -#}
{% macro rank_in(partition) -%}
ROW_NUMBER() OVER (PARTITION BY {{ partition }}, us IS NULL ORDER BY us) - 1
{%- endmacro %}

{% macro count_in(partition) -%}
COUNT(us) OVER (PARTITION BY {{ partition }})
{%- endmacro %}

{#- Quantile `p` of the group's `us` (microseconds), in seconds; NULL without a value.
    `value` may keep some of the group's rows only, as `IF(condition, us, NULL)`: the ranks
    must then be counted within a partition that the condition keeps whole. -#}
{% macro quantile_seconds(p, value='us') -%}
PERCENTILE_CONT({{ value }}, {{ p }}) / {{ MICROS_PER_SECOND }}
{%- endmacro %}

