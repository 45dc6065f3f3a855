-- name: summary
-- table: Tenant summary: the whole range in one row, computed from raw rows (not averaged from
--   daily values).
-- grain: one row for the range [start_date, end_date] in the request's timezone.
-- granularities: range
-- params:
--   tenant_id                     STRING     the tenant whose rows are read
--   outlet_id                     STRING     only conversations of this outlet, and their messages (only when the outlet filter is on)
--   start_date                    DATE       first local date of the range (the summary's one bucket)
--   range_start                   TIMESTAMP  start_date 00:00 in tz, as an instant
--   range_end                     TIMESTAMP  (end_date + 1 day) 00:00 in tz, as an instant
--   lookaround_start              TIMESTAMP  with a look-around bound (LOOKAROUND_DAYS): range_start minus that many days; no row before it is read
--   lookaround_end                TIMESTAMP  range_end plus that many days; no row from it on is read
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
--   total_conversations            INT64    conversations started in the range
--   total_messages                 INT64    messages sent in the range, of any sender type
--   average_response_time_seconds  FLOAT64  mean response time over all customer turns that start in the range (their replies possibly after it)
--   resolution_rate                FLOAT64  resolved / conversations started in the range
--   handoff_rate                   FLOAT64  share of the conversations started in the range with a handoff request (a message whose metadata.handoff_requested is JSON true or "true"), whatever their current status
--   total_cost                     FLOAT64  LLM cost of the range's llm messages + WhatsApp cost of all its messages
{% import 'macros/request.sql' as r with context -%}
{% import 'macros/series.sql' as m with context -%}
{% import 'macros/rollup.sql' as rollup with context -%}
{% import 'macros/costs.sql' as costs with context -%}
{#- The layout's row sources: sql/sources/seed/ or sql/sources/facts/ (the rollup reads metric_slots). -#}
{% set sources = 'sources/' ~ layout ~ '/' -%}
{% if layout == 'rollup' -%}
{#- The range's sums from the rollup, only those the summary needs (each expression costs DuckDB
    planning time); over no rows they are NULL, read as 0. Priced: the rollup's priced columns
    where they hold this process's rate card (`stored_prices`), else cost_slots priced here. #}
{% if priced and not stored_prices -%}
WITH
  {{ costs.price_tables() }}
  {% call costs.priced_aggregates('priced') %}{{ costs.priced_groups('messages') }}{% endcall %}
  {#- priced_aggregates' common table expressions each end with a comma. #}
  range_row AS (SELECT 1 AS one)
{% endif -%}
SELECT
  COALESCE(conversations, 0) AS total_conversations,
  COALESCE(messages, 0) AS total_messages,
  SAFE_DIVIDE(response_us, replied_turns) / {{ MICROS_PER_SECOND }} AS average_response_time_seconds,
  SAFE_DIVIDE(resolved_conversations, conversations) AS resolution_rate,
  SAFE_DIVIDE(handoffs, conversations) AS handoff_rate,
  {% if priced %}{{ costs.total_cost('sums', 'sums') if stored_prices else costs.total_cost('w', 'l') }}{% else %}{{ m.llm_cost('COALESCE(llm_tokens, 0)') }} + {{ m.whatsapp_cost('COALESCE(messages, 0)') }}{% endif %} AS total_cost
FROM (
  SELECT
    SUM(r.conversations) AS conversations,
    SUM(r.resolved_conversations) AS resolved_conversations,
    SUM(r.handoffs) AS handoffs,
    SUM(r.messages) AS messages,
    SUM(r.llm_tokens) AS llm_tokens,
    SUM(r.replied_turns) AS replied_turns,
    SUM(r.response_us) AS response_us{% if priced and stored_prices %},
    SUM(r.llm_cost) AS llm_cost,
    SUM(r.total_whatsapp_cost) AS total_whatsapp_cost{% endif %}
  {{ rollup.slots_in_range() }}
) AS sums
{% if priced and not stored_prices -%}
LEFT JOIN priced_whatsapp AS w ON TRUE
LEFT JOIN priced_llm AS l ON TRUE
{% endif -%}
{% else -%}
WITH
  {% if layout == 'seed' %}{% include 'sources/seed/window.sql' %}
  {% endif -%}
  conversation_aggregates AS (
    {% call m.conversation_aggregates() %}{% include sources ~ 'conversations.sql' %}{% endcall %}
  ),
  message_aggregates AS (
    {% call m.message_aggregates() %}{% include sources ~ 'messages.sql' %}{% endcall %}
  ),
  {% if priced -%}
  {{ costs.price_tables() }}
  {% call costs.priced_aggregates('priced') %}{{ costs.priced_groups('messages') }}{% endcall %}
  {% endif -%}
  turn_aggregates AS (
    {% call m.turn_aggregates() %}{% include sources ~ 'turns.sql' %}{% endcall %}
  )
SELECT
  COALESCE(c.total_conversations, 0) AS total_conversations,
  COALESCE(n.total_messages, 0) AS total_messages,
  t.average_response_time_seconds,
  SAFE_DIVIDE(c.resolved_conversations, c.total_conversations) AS resolution_rate,
  SAFE_DIVIDE(c.total_handoffs, c.total_conversations) AS handoff_rate,
  {% if priced %}{{ costs.total_cost('w', 'l') }}{% else %}{{ m.llm_cost('COALESCE(n.total_tokens_used, 0)') }} + {{ m.whatsapp_cost('COALESCE(n.total_messages, 0)') }}{% endif %} AS total_cost
FROM (SELECT 1 AS one) AS range_row
LEFT JOIN conversation_aggregates AS c ON TRUE
LEFT JOIN message_aggregates AS n ON TRUE
LEFT JOIN turn_aggregates AS t ON TRUE
{% if priced -%}
LEFT JOIN priced_whatsapp AS w ON TRUE
LEFT JOIN priced_llm AS l ON TRUE
{% endif -%}
{% endif -%}
