-- name: slot_prices
-- table: The priced columns of `metric_slots` (docs/costs.md, "The priced rollup") for the
--   (tenant, slot) pairs listed in `crm_metrics_touched_slots`: the slot's cost_slots groups
--   priced with the rate card stored in the store (crm_metrics_whatsapp_prices,
--   crm_metrics_llm_prices, crm_metrics_rate_card) as sql/macros/costs.sql prices them at
--   query time, summed per slot. Every write that changes cost_slots runs it for the slots it
--   changed (crm_metrics/derived.py `reprice`), installing a card for every slot.
-- grain: per tenant, slot and outlet (outlet_id null: the whole tenant) with cost_slots rows;
--   a metric_slots row without any has all of them 0.
-- columns:
--   tenant_id                     STRING     the tenant
--   outlet_id                     STRING     the outlet; null: the whole tenant
--   slot_start                    TIMESTAMP  the slot's first instant
--   input_tokens                  INT64      §8 llm_input_tokens of the slot
--   output_tokens                 INT64      §8 llm_output_tokens
--   llm_cost                      FLOAT64    §8 total_llm_cost
--   whatsapp_charged_messages     INT64      §8 whatsapp_charged_messages
--   whatsapp_free_messages        INT64      §8 whatsapp_free_messages
--   whatsapp_unpriced_messages    INT64      §8 whatsapp_unpriced_messages
--   whatsapp_marketing_cost       FLOAT64    §8 whatsapp_marketing_cost
--   whatsapp_utility_cost         FLOAT64    §8 whatsapp_utility_cost
--   whatsapp_authentication_cost  FLOAT64    §8 whatsapp_authentication_cost
--   total_whatsapp_cost           FLOAT64    §8 total_whatsapp_cost
{% import 'macros/costs.sql' as costs with context -%}
WITH
  whatsapp_price_rows AS (
    SELECT w.low, w.high, w.market, w.category, w.price, w.valid_from, w.valid_to FROM crm_metrics_whatsapp_prices AS w
  ),
  llm_price_rows AS (
    SELECT l.model, l.input_price, l.output_price, l.valid_from, l.valid_to FROM crm_metrics_llm_prices AS l
  )
SELECT
  g.tenant_id,
  g.outlet_id,
  g.slot_start,
  {% for c in costs.PRICED_SUMS %}SUM(g.{{ c }}) AS {{ c }}{{ ',' if not loop.last }}
  {% endfor %}
FROM (
  SELECT
    c.tenant_id,
    c.outlet_id,
    c.slot_start,
    {{ costs.slot_measures(stored=True) }}
  FROM (
    SELECT k.*, DATE(k.slot_start, 'UTC') AS day, {{ costs.priced_model('k.model', stored=True) }} AS priced_model
    FROM cost_slots AS k
    {#- A semi-join: PostgreSQL estimates it from the list's statistics (crm_metrics/derived.py reprice). #}
    WHERE EXISTS (SELECT 1 FROM crm_metrics_touched_slots AS s WHERE s.tenant_id = k.tenant_id AND s.slot_start = k.slot_start)
  ) AS c
  {{ costs.whatsapp_price_join('p', 'c') }}
  {{ costs.llm_price_join('q', 'c') }}
) AS g
GROUP BY g.tenant_id, g.outlet_id, g.slot_start
