-- name: outcomes
-- table: Outcomes (docs/metrics.md §7.2) of the conversations started in each bucket (the
--   cohort): how many the bot closed alone, how many needed an agent, and what the cohort's
--   messages cost, whatever their timestamps. One row per bucket, then one totals row over
--   the whole range computed from the raw rows.
-- grain: one row per bucket (day, ISO week from Monday, or month; the first and last bucket
--   clipped to the range) in the request's timezone, by the conversation's start, every
--   bucket in date order, then the totals row (date null).
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
--   llm_price_per_million_tokens  FLOAT64    LLM price in dollars per million tokens (default 0.15)
--   whatsapp_price_per_message    FLOAT64    WhatsApp price in dollars per message (default 0.01)
--   whatsapp_lows                 ARRAY<STRING>   WHATSAPP_PRICES, each row once per range of numbers of its market (crm_metrics/prices.py): the range's first number, in byte order
--   whatsapp_highs                ARRAY<STRING>   the first number after the range ('': none)
--   whatsapp_markets              ARRAY<STRING>   the row's prefix: the longest of the table that the range's numbers start with ('*': none)
--   whatsapp_categories           ARRAY<STRING>   each row's template category
--   whatsapp_prices               ARRAY<FLOAT64>  each row's price in dollars per charged message
--   whatsapp_valid_from           ARRAY<DATE>     each row's first UTC date
--   whatsapp_valid_to             ARRAY<DATE>     the next row's valid_from for the same prefix and category (9999-12-31: none)
--   llm_models                    ARRAY<STRING>   LLM_PRICES: each row's model (* for the others)
--   llm_input_prices              ARRAY<FLOAT64>  each row's price in dollars per million input tokens
--   llm_output_prices             ARRAY<FLOAT64>  each row's price in dollars per million output tokens
--   llm_valid_from                ARRAY<DATE>     each row's first UTC date
--   llm_valid_to                  ARRAY<DATE>     the next row's valid_from for the same model (9999-12-31: none)
--   llm_named_models              ARRAY<STRING>   the models the table names (not *)
-- columns:
--   date                              DATE     first date of the bucket; null on the totals row
--   total_conversations               INT64    conversations started in the bucket
--   contained_conversations           INT64    of those, status = 'resolved', without a handoff request and without an agent message
--   containment_rate                  FLOAT64  contained_conversations / total_conversations
--   agent_involved_conversations      INT64    of those, with at least one agent message (any time)
--   cohort_messages                   INT64    all messages of those conversations, whatever their timestamp
--   cohort_cost                       FLOAT64  their llm messages' tokens x LLM price + cohort_messages x WhatsApp price
--   cost_per_resolved_conversation    FLOAT64  cohort_cost / resolved conversations of the cohort
--   messages_per_conversation         FLOAT64  cohort_messages / total_conversations
{% import 'macros/request.sql' as r with context -%}
{% import 'macros/series.sql' as m with context -%}
{% import 'macros/costs.sql' as costs with context -%}
{#- The layout's row sources: sql/sources/seed/ or sql/sources/facts/. The rollup counts by the
    messages' slots, not by their conversation's start: its layout reads the derived tables. -#}
{% set sources = 'sources/' ~ ('facts' if layout == 'rollup' else layout) ~ '/' -%}
{% macro sums() -%}
COUNT(conversation) AS total_conversations,
    COUNTIF(status = 'resolved' AND handoff_at IS NULL AND agent_messages = 0) AS contained_conversations,
    COUNTIF(agent_messages > 0) AS agent_involved_conversations,
    COUNTIF(status = 'resolved') AS resolved_conversations,
    SUM(messages) AS cohort_messages,
    SUM(llm_tokens) AS cohort_tokens
{%- endmacro %}
{#- Under COST_MODEL=priced the cohort's cost is that of its priced messages (`w`, `l`: §8). -#}
{% macro columns(s, w, l) -%}
{%- set flat = m.llm_cost('COALESCE(' ~ s ~ '.cohort_tokens, 0)') ~ ' + ' ~ m.whatsapp_cost('COALESCE(' ~ s ~ '.cohort_messages, 0)') -%}
{%- set cost = ('(' ~ costs.total_cost(w, l) ~ ')') if priced else flat -%}
COALESCE({{ s }}.total_conversations, 0) AS total_conversations,
    COALESCE({{ s }}.contained_conversations, 0) AS contained_conversations,
    SAFE_DIVIDE({{ s }}.contained_conversations, {{ s }}.total_conversations) AS containment_rate,
    COALESCE({{ s }}.agent_involved_conversations, 0) AS agent_involved_conversations,
    COALESCE({{ s }}.cohort_messages, 0) AS cohort_messages,
    {{ cost }} AS cohort_cost,
    SAFE_DIVIDE({{ cost }}, {{ s }}.resolved_conversations) AS cost_per_resolved_conversation,
    SAFE_DIVIDE({{ s }}.cohort_messages, {{ s }}.total_conversations) AS messages_per_conversation
{%- endmacro %}
WITH
  {% if layout == 'seed' %}{% include 'sources/seed/window.sql' %}
  {% endif -%}
  buckets AS (
    {{ r.buckets() }}
  ),
  {#- One row per bucket, then the whole range's (ROLLUP's total, bucket NULL: from the raw
      rows). A row without a conversation stands for every bucket, so that each has its row. #}
  figures AS (
    SELECT bucket, {{ sums() }}
    FROM (
      SELECT {{ r.bucket_of('started_at') }} AS bucket, 1 AS conversation, status, handoff_at, messages, agent_messages, llm_tokens
      FROM ({% include sources ~ 'cohort.sql' %}) AS cohort_rows
      UNION ALL
      SELECT bucket, NULL, CAST(NULL AS STRING), CAST(NULL AS TIMESTAMP), 0, 0, 0
      FROM buckets
    ) AS cohort
    GROUP BY ROLLUP (bucket)
  ){% if priced %},
  {{ costs.price_tables() }}
  {% call costs.priced_aggregates('priced') %}{{ costs.priced_groups('cohort') }}{% endcall %}
  {#- The cohort's priced costs per bucket, then over the range (bucket NULL), as figures. #}
  cohort_whatsapp AS (
    SELECT bucket, {{ costs.whatsapp_sums('w') }} FROM priced_whatsapp_rows AS w GROUP BY ROLLUP (bucket)
  ),
  cohort_llm AS (
    SELECT bucket, {{ costs.llm_sums('l') }} FROM priced_llm_rows AS l GROUP BY ROLLUP (bucket)
  ){% endif %}
SELECT s.bucket AS date, {{ columns('s', 'w', 'l') }}
FROM figures AS s
{% if priced -%}
LEFT JOIN cohort_whatsapp AS w ON w.bucket = s.bucket OR (w.bucket IS NULL AND s.bucket IS NULL)
LEFT JOIN cohort_llm AS l ON l.bucket = s.bucket OR (l.bucket IS NULL AND s.bucket IS NULL)
{% endif -%}
ORDER BY date
