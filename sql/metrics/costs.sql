-- name: costs
-- table: Priced costs (docs/metrics.md §8, COST_MODEL=priced): what WhatsApp bills (charged
--   template messages by market and category, free service messages) and what the LLM bills
--   (input and output tokens by model), each on the message's UTC date by the price tables.
--   One row per bucket of the messages' timestamps, then one totals row over the whole range
--   computed from the raw rows.
-- grain: one row per bucket (day, ISO week from Monday, or month; the first and last bucket
--   clipped to the range) in the request's timezone, every bucket in date order, then the
--   totals row (date null).
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
--   date                          DATE     first date of the bucket; null on the totals row
--   total_llm_calls               INT64    llm messages sent in the bucket
--   total_tokens_used             INT64    sum of metadata.tokens_used over those (a whole number, else 0)
--   llm_input_tokens              INT64    sum of metadata.input_tokens over those (read as tokens_used)
--   llm_output_tokens             INT64    sum of metadata.output_tokens over those
--   total_llm_cost                FLOAT64  input x input price + output x output price of the model's row valid on the UTC date (the * rows for a model the table does not name; no row: 0); tokens_used x the flat price where neither token key is present
--   whatsapp_charged_messages     INT64    llm, agent and system messages whose metadata.pricing.type is "regular"
--   whatsapp_free_messages        INT64    llm, agent and system messages not charged
--   whatsapp_unpriced_messages    INT64    charged messages without a price row (for the market of the number's longest prefix, the category, the UTC date)
--   whatsapp_marketing_cost       FLOAT64  cost of charged messages of category marketing
--   whatsapp_utility_cost         FLOAT64  cost of charged messages of category utility
--   whatsapp_authentication_cost  FLOAT64  cost of charged messages of category authentication
--   total_whatsapp_cost           FLOAT64  cost of all charged messages, any category
--   total_cost                    FLOAT64  total_llm_cost + total_whatsapp_cost
--   cost_per_conversation         FLOAT64  total_cost / conversations started in the bucket (the totals row: in the range)
{% import 'macros/request.sql' as r with context -%}
{% import 'macros/series.sql' as m with context -%}
{% import 'macros/costs.sql' as costs with context -%}
{% import 'macros/rollup.sql' as rollup with context -%}
{#- The conversations by the layout's row sources; the priced groups by sources/priced/ (the rollup: cost_slots). -#}
{% set sources = 'sources/' ~ ('facts' if layout == 'rollup' else layout) ~ '/' -%}
{% if stored_prices -%}
{#- The rollup's priced columns where they hold this process's rate card (docs/costs.md, "The
    priced rollup"): the buckets' sums, then the range's (ROLLUP's bucket NULL, from the same
    slots), with a zero row for every bucket so that each has its row. #}
WITH
  buckets AS (
    {{ r.buckets() }}
  ),
  sums AS (
    SELECT
      bucket,
      SUM(conversations) AS total_conversations,
      SUM(llm_messages) AS llm_messages,
      SUM(llm_tokens) AS tokens_used,
      {% for c in costs.PRICED_SUMS %}SUM({{ c }}) AS {{ c }}{{ ',' if not loop.last }}
      {% endfor %}
    FROM (
      SELECT {{ r.bucket_of('r.slot_start') }} AS bucket, r.conversations, r.llm_messages, r.llm_tokens{% for c in costs.PRICED_SUMS %}, r.{{ c }}{% endfor %}
      {{ rollup.slots_in_range() }}
      UNION ALL
      SELECT bucket, 0, 0, 0{% for c in costs.PRICED_SUMS %}, 0{% endfor %}
      FROM buckets
    ) AS slot_rows
    GROUP BY ROLLUP (bucket)
  )
SELECT s.bucket AS date, {{ costs.cost_columns('s', 's', 's') }}
FROM sums AS s
ORDER BY date
{% else -%}
WITH
  {% if layout == 'seed' %}{% include 'sources/seed/window.sql' %}
  {% endif -%}
  {{ costs.price_tables() }}
  buckets AS (
    {{ r.buckets() }}
  ),
  conversation_aggregates AS (
    {% call m.conversation_aggregates() %}{% include sources ~ 'conversations.sql' %}{% endcall %}
  ),
  {% call costs.priced_aggregates('priced') %}{{ costs.priced_groups('messages') }}{% endcall %}
  whatsapp_totals AS (
    SELECT {{ costs.whatsapp_sums('w') }} FROM priced_whatsapp_rows AS w
  ),
  llm_totals AS (
    SELECT {{ costs.llm_sums('l') }} FROM priced_llm_rows AS l
  ),
  conversation_totals AS (
    SELECT SUM(total_conversations) AS total_conversations FROM conversation_aggregates
  )
SELECT *
FROM (
  SELECT b.bucket AS date, {{ costs.cost_columns('w', 'l', 'c') }}
  FROM buckets AS b
  LEFT JOIN priced_whatsapp AS w ON w.bucket = b.bucket
  LEFT JOIN priced_llm AS l ON l.bucket = b.bucket
  LEFT JOIN conversation_aggregates AS c ON c.bucket = b.bucket
  UNION ALL
  SELECT CAST(NULL AS DATE), {{ costs.cost_columns('w', 'l', 'c') }}
  FROM whatsapp_totals AS w
  CROSS JOIN llm_totals AS l
  CROSS JOIN conversation_totals AS c
) AS answer
ORDER BY date
{% endif -%}
