{#-
  The request's shape in SQL: buckets, the tenant/outlet scope, the range, local dates.

  Shape only: a macro may add or drop SQL, never carry a value. Every value travels as a
  bound @parameter. The variables a template may branch on (crm_metrics/planning.py `Shape`):
    outlet       bool: the outlet filter is on
    granularity  'day', 'week', 'month', or 'range' (one bucket: the whole range)
    layout       'seed' (the seed's tables), 'facts' (the derived tables) or 'rollup'
    offsets      bool: local dates by the range's known UTC offsets (see local_date)
    bounded      bool: rows are read only within the look-around bound of the range (see near)
  Constants (MICROS_PER_DAY, OFFSET_SLOTS, ...) come from crm_metrics/templates.py.
-#}

{#- The bucket a local date falls in, labelled by its first date and clipped to the range. -#}
{% macro bucket(local_date) -%}
{%- if granularity == 'day' -%}
{{ local_date }}
{%- elif granularity == 'week' -%}
GREATEST(DATE_TRUNC({{ local_date }}, WEEK(MONDAY)), @start_date)
{%- elif granularity == 'month' -%}
GREATEST(DATE_TRUNC({{ local_date }}, MONTH), @start_date)
{%- else -%}
@start_date
{%- endif -%}
{%- endmacro %}

{#- Every bucket of the range, so that each series is dense. -#}
{% macro buckets() -%}
{%- if granularity == 'range' -%}
SELECT @start_date AS bucket
{%- else -%}
{#- A day is its own bucket; weeks and months repeat. #}
SELECT {% if granularity != 'day' %}DISTINCT {% endif %}{{ bucket('d') }} AS bucket
  FROM UNNEST(GENERATE_DATE_ARRAY(@start_date, @end_date)) AS d
{%- endif -%}
{%- endmacro %}

{#-
  The tenant's conversations (and only the outlet's, when filtered). Requests name them in
  lowercase; the seed's tables may hold them in any case (rows that other applications write),
  so those are compared lowercased; the derived tables store them lowercased (`derived`).
-#}
{% macro scope(c, derived=False) -%}
{%- if derived -%}
{{ c }}.tenant_id = @tenant_id
{%- if outlet %} AND {{ c }}.outlet_id = @outlet_id{% endif %}
{%- else -%}
LOWER({{ c }}.tenant_id) = @tenant_id
{%- if outlet %} AND LOWER({{ c }}.outlet_id) = @outlet_id{% endif %}
{%- endif -%}
{%- endmacro %}

{#- An instant falls in the range: [start_date 00:00, end_date + 1 00:00) local time. -#}
{% macro in_range(ts) -%}
{{ ts }} >= @range_start AND {{ ts }} < @range_end
{%- endmacro %}

{#-
  With a look-around bound (LOOKAROUND_DAYS; `bounded`), the condition that an instant lies
  within it of the range: [@lookaround_start, @lookaround_end), the range widened by that many
  days at each end. Rows outside are not read at all, on every engine (docs/metrics.md, the
  look-around bound); on BigQuery this is the partition filter of the scans whose rows the
  contract lets lie anywhere in time. Unbounded: nothing.
-#}
{% macro near(ts) -%}
{%- if bounded %} AND {{ ts }} >= @lookaround_start AND {{ ts }} < @lookaround_end{% endif -%}
{%- endmacro %}

{#-
  The local date of an instant. With `offsets` (with derived tables, where a range's UTC
  offsets are known: @tz_offset_0 before @tz_change_1, and so on) it is integer arithmetic on
  epoch microseconds, several times faster than a time zone conversion per row; days are
  counted from 1900-01-01 so that the division never sees a negative number.
-#}
{% macro local_date(ts) -%}
{%- if offsets -%}
DATE_ADD(DATE '1900-01-01', INTERVAL DIV(UNIX_MICROS({{ ts }}) + {{ utc_offset(ts) }}
  + {{ MICROS_FROM_1900_TO_EPOCH }}, {{ MICROS_PER_DAY }}) DAY)
{%- else -%}
DATE({{ ts }}, @tz)
{%- endif -%}
{%- endmacro %}

{#-
  The UTC offset in force at an instant, in microseconds, with `offsets`: @tz_offset_0 before
  @tz_change_1, and so on, with a branch per change the range has (`offset_changes`; all
  OFFSET_SLOTS of them for a caller that does not say): none for most ranges.
-#}
{% macro utc_offset(ts) -%}
{%- set changes = offset_changes if offset_changes is defined else OFFSET_SLOTS -%}
{%- if changes == 0 -%}
@tz_offset_0
{%- else -%}
CASE
{%- for i in range(1, changes + 1) %} WHEN UNIX_MICROS({{ ts }}) < @tz_change_{{ i }} THEN @tz_offset_{{ i - 1 }}{% endfor %} ELSE @tz_offset_{{ changes }} END
{%- endif -%}
{%- endmacro %}

{#- The bucket of an instant's local date (the whole range is one bucket for a summary). -#}
{% macro bucket_of(ts) -%}
{%- if granularity == 'range' -%}
@start_date
{%- else -%}
{{ bucket(local_date(ts)) }}
{%- endif -%}
{%- endmacro %}
