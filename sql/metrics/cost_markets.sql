-- name: cost_markets
-- table: WhatsApp costs per market over the whole range (docs/metrics.md §8, COST_MODEL=priced,
--   `GET /api/v1/metrics/costs?group_by=market`): the messages of the range whose number the
--   market's prefix matched (the longest prefix of WHATSAPP_PRICES it starts with; '*' where
--   none does).
-- grain: one row per prefix (* included) that at least one llm, agent or system message of the
--   range matched, ordered by prefix byte by byte.
-- granularities: range
-- params:
--   tenant_id                     STRING     the tenant whose rows are read
--   outlet_id                     STRING     only conversations of this outlet, and their messages (only when the outlet filter is on)
--   start_date                    DATE       first local date of the range, inclusive
--   range_start                   TIMESTAMP  start_date 00:00 in tz, as an instant
--   range_end                     TIMESTAMP  (end_date + 1 day) 00:00 in tz, as an instant
--   lookaround_start              TIMESTAMP  with a look-around bound (LOOKAROUND_DAYS): range_start minus that many days; no row before it is read
--   lookaround_end                TIMESTAMP  range_end plus that many days; no row from it on is read
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
--   prefix                        STRING   the market's prefix in WHATSAPP_PRICES
--   whatsapp_charged_messages     INT64    llm, agent and system messages whose metadata.pricing.type is "regular"
--   whatsapp_free_messages        INT64    llm, agent and system messages not charged
--   whatsapp_unpriced_messages    INT64    charged messages without a price row (for the market of the number's longest prefix, the category, the UTC date)
--   whatsapp_marketing_cost       FLOAT64  cost of charged messages of category marketing
--   whatsapp_utility_cost         FLOAT64  cost of charged messages of category utility
--   whatsapp_authentication_cost  FLOAT64  cost of charged messages of category authentication
--   total_whatsapp_cost           FLOAT64  cost of all charged messages, any category
{% import 'macros/request.sql' as r with context -%}
{% import 'macros/costs.sql' as costs with context -%}
WITH
  {{ costs.price_tables() }}
  {% call costs.priced_aggregates('priced', markets=True) %}{{ costs.priced_groups('messages', numbers=True) }}{% endcall %}
  markets AS (
    SELECT w.prefix, {{ costs.whatsapp_sums('w') }}
    FROM priced_whatsapp_rows AS w
    WHERE w.prefix IS NOT NULL
    GROUP BY w.prefix
  )
SELECT
  prefix,
  whatsapp_charged_messages,
  whatsapp_free_messages,
  whatsapp_unpriced_messages,
  COALESCE(whatsapp_marketing_cost, 0) AS whatsapp_marketing_cost,
  COALESCE(whatsapp_utility_cost, 0) AS whatsapp_utility_cost,
  COALESCE(whatsapp_authentication_cost, 0) AS whatsapp_authentication_cost,
  total_whatsapp_cost
FROM markets
ORDER BY CAST(prefix AS BYTES)
