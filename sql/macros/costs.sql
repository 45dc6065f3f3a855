{#-
  Priced costs (COST_MODEL=priced; docs/metrics.md §8, docs/costs.md): the price tables as
  tables, each message's WhatsApp charge by market and category and its LLM tokens by model,
  priced on the message's UTC date. The tables arrive as bound arrays, one per column
  (crm_metrics/prices.py): no price, prefix or model is ever SQL text.

  Rows are grouped before prices are applied (a price depends only on the market, the
  category or model and the UTC day), so the work per price row is per group, not per
  message; the rollup stores these same groups (price-independent counts and token sums) and
  every layout prices them here, at query time.
-#}
{% import 'macros/request.sql' as r with context -%}
{% import 'macros/series.sql' as s with context -%}
{% import 'macros/rows.sql' as rows with context -%}

{#-
  Common table expressions (each followed by a comma, but for the `last`) of the two tables as
  crm_metrics/prices.py hands them over, each row with its end of validity (valid_to: the
  next valid_from of the same prefix and category, or model; 9999-12-31: none):
  whatsapp_price_rows (low, high, market, category, price, valid_from, valid_to), a row of the
  table once per range of numbers of its market (below), and llm_price_rows (model,
  input_price, output_price, valid_from, valid_to).
-#}
{% macro price_tables(last=False) -%}
whatsapp_price_rows AS (
    SELECT
      @whatsapp_lows[ORDINAL(i)] AS low,
      @whatsapp_highs[ORDINAL(i)] AS high,
      @whatsapp_markets[ORDINAL(i)] AS market,
      @whatsapp_categories[ORDINAL(i)] AS category,
      @whatsapp_prices[ORDINAL(i)] AS price,
      @whatsapp_valid_from[ORDINAL(i)] AS valid_from,
      @whatsapp_valid_to[ORDINAL(i)] AS valid_to
    FROM UNNEST(GENERATE_ARRAY(1, ARRAY_LENGTH(@whatsapp_lows))) AS i
  ),
  llm_price_rows AS (
    SELECT
      @llm_models[ORDINAL(i)] AS model,
      @llm_input_prices[ORDINAL(i)] AS input_price,
      @llm_output_prices[ORDINAL(i)] AS output_price,
      @llm_valid_from[ORDINAL(i)] AS valid_from,
      @llm_valid_to[ORDINAL(i)] AS valid_to
    FROM UNNEST(GENERATE_ARRAY(1, ARRAY_LENGTH(@llm_models))) AS i
  ){{ '' if last else ',' }}
{%- endmacro %}

{#- A price row `p` applies on the UTC day `day`: the latest valid_from on or before it. -#}
{% macro valid_on(p, day) -%}
{{ p }}.valid_from <= {{ day }} AND {{ day }} < {{ p }}.valid_to
{%- endmacro %}

{#-
  The number `phone` (without its leading '+') lies in the range of numbers of the WhatsApp
  price row `p`: its market is the row's. The longest-prefix match is done once, in Python,
  for the table (crm_metrics/prices.py `market_ranges`): a number starts with a prefix
  exactly when prefix <= number < the prefix with its last digit raised by one, in byte
  order, so the numbers whose longest prefix is a given one form ranges between the table's
  prefixes and those bounds; one comparison per bound here, no lookup per prefix length.
  Byte order: BYTES in BigQuery, the "C" collation in PostgreSQL, DuckDB's own.
-#}
{% macro in_range(p, phone) -%}
CAST({{ phone }} AS BYTES) >= CAST({{ p }}.low AS BYTES) AND ({{ p }}.high = '' OR CAST({{ phone }} AS BYTES) < CAST({{ p }}.high AS BYTES))
{%- endmacro %}

{#- A model the LLM table names is priced by its rows, any other (or none) by the '*' rows
    (`stored`: the rate card stored for the priced rollup, sql/derived/slot_prices.sql). -#}
{% macro priced_model(model, stored=False) -%}
{%- if stored -%}
IF({{ model }} IN (SELECT n.model FROM crm_metrics_llm_prices AS n WHERE n.model <> '*'), {{ model }}, '*')
{%- else -%}
IF({{ model }} IN UNNEST(@llm_named_models), {{ model }}, '*')
{%- endif -%}
{%- endmacro %}

{#- The WhatsApp price row `p` (joined on charged rows of `g` only) and the LLM price row `q`
    of a priced group `g` (columns day, kind, phone, charged, category, and priced_model). -#}
{% macro whatsapp_price_join(p, g) -%}
LEFT JOIN whatsapp_price_rows AS {{ p }}
      ON {{ g }}.charged AND {{ p }}.category = {{ g }}.category AND {{ in_range(p, g ~ '.phone') }} AND {{ valid_on(p, g ~ '.day') }}
{%- endmacro %}
{% macro llm_price_join(q, g) -%}
LEFT JOIN llm_price_rows AS {{ q }}
      ON {{ g }}.kind = 'llm' AND {{ q }}.model = {{ g }}.priced_model AND {{ valid_on(q, g ~ '.day') }}
{%- endmacro %}

{#- The LLM cost of a priced group `g` with its price row `q`: input and output tokens by the
    row (none: 0), tokens_used of messages without either token key by the flat price
    (LLM_PRICE_PER_MILLION_TOKENS; `stored`: the stored rate card's). -#}
{% macro llm_cost(g, q, stored=False) -%}
COALESCE({{ g }}.input_tokens * {{ q }}.input_price + {{ g }}.output_tokens * {{ q }}.output_price, 0) / {{ TOKENS_PER_PRICE_UNIT }}
        + {% if stored %}{{ g }}.flat_tokens * (SELECT k.llm_price_per_million_tokens FROM crm_metrics_rate_card AS k) / {{ TOKENS_PER_PRICE_UNIT }}{% else %}{{ s.llm_cost(g ~ '.flat_tokens') }}{% endif %}
{%- endmacro %}

{#-
  Common table expressions `<name>_whatsapp_rows`, `<name>_whatsapp`, `<name>_llm_rows` and
  `<name>_llm`, each followed by a comma: per bucket, the WhatsApp fields and the LLM fields of
  §8, from the groups the caller's block gives. The block's rows (a layout's sources/priced/
  file, or the rollup's cost_slots): bucket, day (the UTC date), kind ('whatsapp' or 'llm'),
  phone (the number without its leading '+'), charged, category, model, messages,
  input_tokens, output_tokens, flat_tokens (tokens_used of llm messages without input or
  output tokens), tokens_used. With `markets`, every WhatsApp row's prefix is its number's
  market (the markets answer); without, only charged rows' (the others' is not read).
-#}
{% macro priced_aggregates(name, markets=False) -%}
{{ name }}_groups AS (
    {{ caller() }}
  ),
  {{ name }}_whatsapp_rows AS (
    SELECT g.bucket, {{ 'k' if markets else 'p' }}.market AS prefix, g.charged, g.category, g.messages, p.price
    FROM {{ name }}_groups AS g
    {% if markets -%}
    {#- The number's market whatever its messages' price: the ranges of the table's rows. #}
    LEFT JOIN (SELECT DISTINCT low, high, market FROM whatsapp_price_rows) AS k ON {{ in_range('k', 'g.phone') }}
    {% endif -%}
    {{ whatsapp_price_join('p', 'g') }}
    WHERE g.kind = 'whatsapp'
  ),
  {{ name }}_whatsapp AS (
    SELECT bucket, {{ whatsapp_sums('w') }}
    FROM {{ name }}_whatsapp_rows AS w
    GROUP BY bucket
  ),
  {{ name }}_llm_rows AS (
    SELECT g.bucket, g.messages, g.tokens_used, g.input_tokens, g.output_tokens, {{ llm_cost('g', 'q') }} AS llm_cost
    FROM (
      {#- The model's price rows by name before the join (BigQuery joins on no subquery). #}
      SELECT h.*, {{ priced_model('h.model') }} AS priced_model FROM {{ name }}_groups AS h WHERE h.kind = 'llm'
    ) AS g
    {{ llm_price_join('q', 'g') }}
  ),
  {{ name }}_llm AS (
    SELECT bucket, {{ llm_sums('l') }}
    FROM {{ name }}_llm_rows AS l
    GROUP BY bucket
  ),
{%- endmacro %}

{#- The priced measures the rollup's dashboard sums per bucket with metric_slots' (macros/rollup.sql
    slot_series), in order; its llm calls and tokens_used are metric_slots' llm_messages and llm_tokens. -#}
{% set PRICED_SUMS = ['input_tokens', 'output_tokens', 'llm_cost', 'whatsapp_charged_messages', 'whatsapp_free_messages', 'whatsapp_unpriced_messages', 'whatsapp_marketing_cost', 'whatsapp_utility_cost', 'whatsapp_authentication_cost', 'total_whatsapp_cost'] %}

{#- The priced measures (PRICED_SUMS, in order, named) of a cost_slots row `c` (with its UTC
    `day` and `priced_model`) and its price rows `p` and `q` (whatsapp_price_join, llm_price_join). -#}
{% macro slot_measures(stored=False) -%}
c.input_tokens AS input_tokens,
      c.output_tokens AS output_tokens,
      {{ llm_cost('c', 'q', stored) }} AS llm_cost,
      IF(c.charged, c.messages, 0) AS whatsapp_charged_messages,
      IF(c.kind = 'whatsapp' AND NOT c.charged, c.messages, 0) AS whatsapp_free_messages,
      IF(c.charged AND p.price IS NULL, c.messages, 0) AS whatsapp_unpriced_messages,
      IF(c.category = 'marketing', c.messages * p.price, 0) AS whatsapp_marketing_cost,
      IF(c.category = 'utility', c.messages * p.price, 0) AS whatsapp_utility_cost,
      IF(c.category = 'authentication', c.messages * p.price, 0) AS whatsapp_authentication_cost,
      COALESCE(c.messages * p.price, 0) AS total_whatsapp_cost
{%- endmacro %}

{#-
  The priced measures (PRICED_SUMS, in order) of the range's rows `c` of cost_slots, priced
  row by row (a row is one slot's group; its UTC date is its slot's): the FROM clause and
  the columns after the caller's, for slot_series' UNION ALL with metric_slots' rows. No
  pre-summing and no second aggregation: the prices' joins are hash joins on a handful of
  rows, and every operator of the statement costs DuckDB planning time.
-#}
{% macro slot_costs() -%}
{{ slot_measures() }}
    FROM (
      SELECT k.*, DATE(k.slot_start, 'UTC') AS day, {{ priced_model('k.model') }} AS priced_model
      FROM cost_slots AS k
      WHERE k.tenant_id = @tenant_id
        AND {% if outlet %}k.outlet_id = @outlet_id{% else %}k.outlet_id IS NULL{% endif %}
        AND {{ r.in_range('k.slot_start') }}
    ) AS c
    {{ whatsapp_price_join('p', 'c') }}
    {{ llm_price_join('q', 'c') }}
{%- endmacro %}

{#- The LLM sums over priced group rows `l` (messages, tokens_used, input_tokens, output_tokens, llm_cost). -#}
{% macro llm_sums(l) -%}
SUM({{ l }}.messages) AS llm_messages,
      SUM({{ l }}.tokens_used) AS tokens_used,
      SUM({{ l }}.input_tokens) AS input_tokens,
      SUM({{ l }}.output_tokens) AS output_tokens,
      SUM({{ l }}.llm_cost) AS llm_cost
{%- endmacro %}

{#- The seven WhatsApp fields summed over priced group rows `w` (charged, category, messages, price). -#}
{% macro whatsapp_sums(w) -%}
SUM(IF({{ w }}.charged, {{ w }}.messages, 0)) AS whatsapp_charged_messages,
      SUM(IF({{ w }}.charged, 0, {{ w }}.messages)) AS whatsapp_free_messages,
      SUM(IF({{ w }}.charged AND {{ w }}.price IS NULL, {{ w }}.messages, 0)) AS whatsapp_unpriced_messages,
      SUM(IF({{ w }}.category = 'marketing', {{ w }}.messages * {{ w }}.price, 0)) AS whatsapp_marketing_cost,
      SUM(IF({{ w }}.category = 'utility', {{ w }}.messages * {{ w }}.price, 0)) AS whatsapp_utility_cost,
      SUM(IF({{ w }}.category = 'authentication', {{ w }}.messages * {{ w }}.price, 0)) AS whatsapp_authentication_cost,
      SUM(COALESCE({{ w }}.messages * {{ w }}.price, 0)) AS total_whatsapp_cost
{%- endmacro %}

{#- The priced cost columns of a bucket from `w` (<name>_whatsapp), `l` (<name>_llm) and the conversations `c`. -#}
{% macro cost_columns(w, l, c) -%}
{%- set whatsapp, llm = 'COALESCE(' ~ w ~ '.total_whatsapp_cost, 0)', 'COALESCE(' ~ l ~ '.llm_cost, 0)' -%}
COALESCE({{ l }}.llm_messages, 0) AS total_llm_calls,
  COALESCE({{ l }}.tokens_used, 0) AS total_tokens_used,
  COALESCE({{ l }}.input_tokens, 0) AS llm_input_tokens,
  COALESCE({{ l }}.output_tokens, 0) AS llm_output_tokens,
  {{ llm }} AS total_llm_cost,
  COALESCE({{ w }}.whatsapp_charged_messages, 0) AS whatsapp_charged_messages,
  COALESCE({{ w }}.whatsapp_free_messages, 0) AS whatsapp_free_messages,
  COALESCE({{ w }}.whatsapp_unpriced_messages, 0) AS whatsapp_unpriced_messages,
  COALESCE({{ w }}.whatsapp_marketing_cost, 0) AS whatsapp_marketing_cost,
  COALESCE({{ w }}.whatsapp_utility_cost, 0) AS whatsapp_utility_cost,
  COALESCE({{ w }}.whatsapp_authentication_cost, 0) AS whatsapp_authentication_cost,
  {{ whatsapp }} AS total_whatsapp_cost,
  {{ llm }} + {{ whatsapp }} AS total_cost,
  SAFE_DIVIDE({{ llm }} + {{ whatsapp }}, {{ c }}.total_conversations) AS cost_per_conversation
{%- endmacro %}

{#- The total cost alone of a bucket from `w` and `l`. -#}
{% macro total_cost(w, l) -%}
COALESCE({{ l }}.llm_cost, 0) + COALESCE({{ w }}.total_whatsapp_cost, 0)
{%- endmacro %}

{#-
  Each message's priced row (the columns priced_aggregates groups, before grouping) from the
  message rows the caller's block gives (a sources/priced/ file, or the rollup's derivation:
  `keys`, the columns carried through, e.g. bucket_at; ts, sender_type, metadata, and
  customer_phone of the message's conversation). Messages of other senders are neither
  charged nor free: no row. The number (its market) prices charged messages only: free ones
  keep it only with `numbers` (the markets answer counts them per prefix); without it they
  group by slot or bucket alone, one row where there would be one per number.
-#}
{% macro message_rows(keys, numbers=False) -%}
SELECT
        {{ keys }},
        DATE(m.ts, 'UTC') AS day,
        'whatsapp' AS kind,
        {% if numbers %}{{ rows.market_number('m.customer_phone') }}{% else %}IF({{ rows.charged('m.metadata') }}, {{ rows.market_number('m.customer_phone') }}, NULL){% endif %} AS phone,
        {{ rows.charged('m.metadata') }} AS charged,
        IF({{ rows.charged('m.metadata') }}, {{ rows.json_string('m.metadata', 'pricing.category') }}, NULL) AS category,
        CAST(NULL AS STRING) AS model,
        0 AS input_tokens, 0 AS output_tokens, 0 AS flat_tokens, 0 AS tokens_used
      FROM ({{ caller() }}) AS m
      WHERE m.sender_type IN ('llm', 'agent', 'system')
      UNION ALL
      SELECT
        {{ keys }},
        DATE(m.ts, 'UTC'),
        'llm',
        NULL,
        FALSE,
        NULL,
        {{ rows.json_string('m.metadata', 'model') }},
        {{ rows.whole_number('m.metadata', 'input_tokens') }},
        {{ rows.whole_number('m.metadata', 'output_tokens') }},
        IF({{ rows.token_keys('m.metadata') }}, 0, {{ rows.tokens_used('m.metadata') }}),
        {{ rows.tokens_used('m.metadata') }}
      FROM ({{ caller() }}) AS m
      WHERE m.sender_type = 'llm'
{%- endmacro %}

{#- The sums of priced rows `g` per group (what priced_aggregates and the rollup's cost_slots hold). -#}
{% macro group_sums(g) -%}
COUNT(*) AS messages,
      SUM({{ g }}.input_tokens) AS input_tokens,
      SUM({{ g }}.output_tokens) AS output_tokens,
      SUM({{ g }}.flat_tokens) AS flat_tokens,
      SUM({{ g }}.tokens_used) AS tokens_used
{%- endmacro %}

{#- cost_slots' rows from priced rows `source` (one row per slot and group for the whole tenant,
    and one per outlet): sql/derived/cost_slots.sql and the event batches' cost_changes.sql. -#}
{% macro slot_groups(source) -%}
SELECT
  g.tenant_id,
  g.outlet_id,
  g.slot_start,
  g.kind,
  g.phone,
  g.charged,
  g.category,
  g.model,
  {{ group_sums('g') }}
FROM {{ source }} AS g
GROUP BY GROUPING SETS (
  (g.tenant_id, g.slot_start, g.kind, g.phone, g.charged, g.category, g.model),
  (g.tenant_id, g.outlet_id, g.slot_start, g.kind, g.phone, g.charged, g.category, g.model)
)
-- The outlet rows of conversations without an outlet would repeat the whole tenant's key.
HAVING g.outlet_id IS NOT NULL OR GROUPING(g.outlet_id) = 1
{%- endmacro %}

{#- Priced groups by bucket of the caller's rows' bucket_at (see message_rows). -#}
{% macro message_groups(numbers=False) -%}
{%- set source = caller() -%}
SELECT {{ r.bucket_of('g.bucket_at') }} AS bucket, g.day, g.kind, g.phone, g.charged, g.category, g.model,
      {{ group_sums('g') }}
    FROM (
      {% call message_rows('m.bucket_at', numbers) %}{{ source }}{% endcall %}
    ) AS g
    GROUP BY bucket, g.day, g.kind, g.phone, g.charged, g.category, g.model
{%- endmacro %}

{#-
  The priced groups of `source` ('messages': the range's messages by their timestamp;
  'cohort': every message of the conversations started in the range, by their start), for
  priced_aggregates: from sources/priced/ on the seed and facts layouts; the range's messages
  from the rollup's cost_slots (sql/derived/cost_slots.sql) on the rollup layout, whose groups
  hold counts and token sums only, so prices apply at query time as on the other layouts.
  With `numbers` (the markets answer: free messages per prefix too) every layout reads the
  messages: cost_slots keeps the number of charged messages only.
-#}
{% macro priced_groups(source, numbers=False) -%}
{%- if layout == 'rollup' and source == 'messages' and not numbers -%}
{#- The slots' groups summed per bucket and UTC day first: the prices' joins then see a few
    rows per day (a month of the largest tenant: 5,196 slot groups, 60 day groups). #}
SELECT g.bucket, g.day, g.kind, g.phone, g.charged, g.category, g.model,
      SUM(g.messages) AS messages,
      SUM(g.input_tokens) AS input_tokens,
      SUM(g.output_tokens) AS output_tokens,
      SUM(g.flat_tokens) AS flat_tokens,
      SUM(g.tokens_used) AS tokens_used
    FROM (
      SELECT {{ r.bucket_of('c.slot_start') }} AS bucket, DATE(c.slot_start, 'UTC') AS day, c.kind, c.phone, c.charged, c.category, c.model,
        c.messages, c.input_tokens, c.output_tokens, c.flat_tokens, c.tokens_used
      FROM cost_slots AS c
      WHERE c.tenant_id = @tenant_id
        AND {% if outlet %}c.outlet_id = @outlet_id{% else %}c.outlet_id IS NULL{% endif %}
        AND {{ r.in_range('c.slot_start') }}
    ) AS g
    GROUP BY g.bucket, g.day, g.kind, g.phone, g.charged, g.category, g.model
{%- else -%}
{% call message_groups(numbers) %}{% include 'sources/priced/' ~ source ~ '.sql' %}{% endcall %}
{%- endif -%}
{%- endmacro %}
