-- name: dashboard
-- table: The whole dashboard in one statement: the conversations, messages, handoffs and costs
--   series side by side (the library runs this; each series alone is its own template).
-- grain: one row per bucket (day, ISO week from Monday, or month; the first and last bucket
--   clipped to the range) in the request's timezone. Every bucket of the range appears, in date
--   order; empty buckets have zero counts and null rates and averages.
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
--   date                             DATE     first date of the bucket
--   total_conversations              INT64    conversations started in the bucket
--   active_conversations             INT64    of those, current status = 'active'
--   resolved_conversations           INT64    of those, current status = 'resolved'
--   handed_off_conversations         INT64    of those, current status = 'handed_off'
--   average_duration_minutes         FLOAT64  mean of (ended_at - started_at) in fractional minutes, over those with ended_at
--   resolution_rate                  FLOAT64  resolved_conversations / total_conversations
--   total_messages                   INT64    messages sent in the bucket, of any sender type
--   customer_messages                INT64    of those, sender_type = 'customer'
--   llm_messages                     INT64    of those, sender_type = 'llm'
--   agent_messages                   INT64    of those, sender_type = 'agent'
--   average_response_time_seconds    FLOAT64  mean seconds from the start of each customer turn starting in the bucket to its first later llm or agent message (even after the range); turns without a reply are left out
--   total_handoffs                   INT64    conversations started in the bucket with a handoff request (metadata.handoff_requested JSON true or "true"), counted once
--   keyword_triggered                INT64    of those, the first request's trigger = 'keyword'
--   confidence_triggered             INT64    of those, the first request's trigger = 'confidence'
--   average_time_to_handoff_minutes  FLOAT64  mean of (first request - started_at) in fractional minutes; the request may fall outside the range
--   handoff_rate                     FLOAT64  total_handoffs / conversations started in the bucket: the share with a handoff request, whatever their current status
--   answered_turns                   INT64    customer turns starting in the bucket with a reply (not shown: the overview's summary adds them up)
--   response_us                      INT64    sum of those turns' response times in microseconds (not shown: likewise)
--   total_llm_calls                  INT64    llm messages sent in the bucket
--   total_tokens_used                INT64    sum of metadata.tokens_used over those (a whole number, else 0)
--   total_llm_cost                   FLOAT64  total_tokens_used x LLM price per token
--   total_whatsapp_cost              FLOAT64  messages sent in the bucket x WhatsApp price per message
--   total_cost                       FLOAT64  total_llm_cost + total_whatsapp_cost
--   cost_per_conversation            FLOAT64  total_cost / conversations started in the bucket
{% import 'macros/request.sql' as r with context -%}
{% import 'macros/series.sql' as m with context -%}
{% import 'macros/rollup.sql' as rollup with context -%}
{% import 'macros/costs.sql' as costs with context -%}
{#- The layout's row sources: sql/sources/seed/ or sql/sources/facts/ (the rollup reads metric_slots). -#}
{% set sources = 'sources/' ~ layout ~ '/' -%}
{% if layout == 'rollup' and priced and stored_prices -%}
{#- The rollup's series with its priced columns (they hold the process's rate card, docs/costs.md). -#}
{{ rollup.slot_series(costs=False, priced=True) }}
{% elif layout == 'rollup' and priced -%}
{#- The rollup's series with cost_slots' priced rows summed in the same aggregation. -#}
WITH
  {{ costs.price_tables(last=True) }}
{{ rollup.slot_series(costs=False, priced=True) }}
{% elif layout == 'rollup' -%}
{{ rollup.slot_series() }}
{% else -%}
WITH
  {% if layout == 'seed' %}{% include 'sources/seed/window.sql' %}
  {% endif -%}
  buckets AS (
    {{ r.buckets() }}
  ),
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
    {% call m.turn_aggregates(sums=True) %}{% include sources ~ 'turns.sql' %}{% endcall %}
  )
SELECT
  b.bucket AS date,
  {{ m.conversation_columns('c') }},
  {{ m.message_columns('n', 't') }},
  {{ m.handoff_columns('c') }},
  {{ m.turn_sums('t') }},
  {% if priced %}{{ costs.cost_columns('w', 'l', 'c') }}{% else %}{{ m.cost_columns('n', 'c') }}{% endif %}
FROM buckets AS b
LEFT JOIN conversation_aggregates AS c ON c.bucket = b.bucket
LEFT JOIN message_aggregates AS n ON n.bucket = b.bucket
LEFT JOIN turn_aggregates AS t ON t.bucket = b.bucket
{% if priced -%}
LEFT JOIN priced_whatsapp AS w ON w.bucket = b.bucket
LEFT JOIN priced_llm AS l ON l.bucket = b.bucket
{% endif -%}
ORDER BY date
{% endif -%}
