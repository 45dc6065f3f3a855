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
  Common table expressions (each followed by a comma) of the two tables with each row's end
  of validity (the next valid_from of the same prefix and category, or model; NULL: none):
  whatsapp_price_rows (prefix, category, price, valid_from, valid_to), whatsapp_markets (the
  distinct prefixes), llm_price_rows (model, input_price, output_price, valid_from, valid_to)
  and llm_models (the distinct models).
-#}
{% macro price_tables() -%}
whatsapp_price_rows AS (
    SELECT prefix, category, price, valid_from,
      LEAD(valid_from) OVER (PARTITION BY prefix, category ORDER BY valid_from) AS valid_to
    FROM (
      SELECT
        @whatsapp_prefixes[ORDINAL(i)] AS prefix,
        @whatsapp_categories[ORDINAL(i)] AS category,
        @whatsapp_prices[ORDINAL(i)] AS price,
        @whatsapp_valid_from[ORDINAL(i)] AS valid_from
      FROM UNNEST(GENERATE_ARRAY(1, ARRAY_LENGTH(@whatsapp_prefixes))) AS i
    ) AS whatsapp_table
  ),
  whatsapp_markets AS (
    SELECT DISTINCT prefix FROM whatsapp_price_rows
  ),
  llm_price_rows AS (
    SELECT model, input_price, output_price, valid_from,
      LEAD(valid_from) OVER (PARTITION BY model ORDER BY valid_from) AS valid_to
    FROM (
      SELECT
        @llm_models[ORDINAL(i)] AS model,
        @llm_input_prices[ORDINAL(i)] AS input_price,
        @llm_output_prices[ORDINAL(i)] AS output_price,
        @llm_valid_from[ORDINAL(i)] AS valid_from
      FROM UNNEST(GENERATE_ARRAY(1, ARRAY_LENGTH(@llm_models))) AS i
    ) AS llm_table
  ),
  llm_models AS (
    SELECT DISTINCT model FROM llm_price_rows
  ),
{%- endmacro %}

{#- A price row `p` applies on the UTC day `day`: the latest valid_from on or before it. -#}
{% macro valid_on(p, day) -%}
{{ p }}.valid_from <= {{ day }} AND ({{ p }}.valid_to IS NULL OR {{ day }} < {{ p }}.valid_to)
{%- endmacro %}

{#-
  Common table expressions `<name>_whatsapp` and `<name>_llm`, each followed by a comma:
  per bucket, the WhatsApp fields and the LLM fields of §8, from the groups the caller's block
  gives. The block's rows (a layout's sources/priced/ file, or the rollup's cost_slots): bucket,
  day (the UTC date), kind ('whatsapp' or 'llm'), phone (the number without its leading '+'),
  charged, category, model, messages, input_tokens, output_tokens, flat_tokens (tokens_used of
  llm messages without input or output tokens), tokens_used.
-#}
{% macro priced_aggregates(name) -%}
{{ name }}_groups AS (
    {{ caller() }}
  ),
  {{ name }}_phones AS (
    {#- Each number's market: the longest prefix it starts with ('*' only where none does),
        found by equality: one probe per distinct prefix length of the table, the number's
        first that many characters looked up among the prefixes. An equality join hashes;
        a STARTS_WITH join compares every number with every prefix (PostgreSQL planned it
        as a nested loop of groups by numbers, seconds on the largest tenant). Only the
        numbers of groups that carry one (charged messages; every message for the markets). #}
    SELECT g.phone, COALESCE(
        SUBSTR(g.phone, 1, MAX(LENGTH(k.prefix))),
        (SELECT star.prefix FROM whatsapp_markets AS star WHERE star.prefix = '*')
      ) AS prefix
    FROM (SELECT DISTINCT phone FROM {{ name }}_groups WHERE kind = 'whatsapp' AND phone IS NOT NULL) AS g
    LEFT JOIN (SELECT DISTINCT LENGTH(prefix) AS n FROM whatsapp_markets WHERE prefix <> '*') AS lengths ON TRUE
    LEFT JOIN whatsapp_markets AS k ON k.prefix = SUBSTR(g.phone, 1, lengths.n)
    GROUP BY g.phone
  ),
  {{ name }}_whatsapp_rows AS (
    SELECT g.bucket, k.prefix, g.charged, g.category, g.messages, IF(g.charged, p.price, NULL) AS price
    FROM {{ name }}_groups AS g
    LEFT JOIN {{ name }}_phones AS k ON k.phone = g.phone
    LEFT JOIN whatsapp_price_rows AS p
      ON g.charged AND p.prefix = k.prefix AND p.category = g.category AND {{ valid_on('p', 'g.day') }}
    WHERE g.kind = 'whatsapp'
  ),
  {{ name }}_whatsapp AS (
    SELECT bucket, {{ whatsapp_sums('w') }}
    FROM {{ name }}_whatsapp_rows AS w
    GROUP BY bucket
  ),
  {{ name }}_llm_rows AS (
    SELECT g.bucket, g.messages, g.tokens_used, g.input_tokens, g.output_tokens,
      COALESCE(g.input_tokens * p.input_price + g.output_tokens * p.output_price, 0) / {{ TOKENS_PER_PRICE_UNIT }}
        + {{ s.llm_cost('g.flat_tokens') }} AS llm_cost
    FROM (
      {#- A model the table names is priced by its rows, any other by the '*' rows. #}
      SELECT h.*, COALESCE(named.model, '*') AS priced_model
      FROM {{ name }}_groups AS h
      LEFT JOIN llm_models AS named ON named.model = h.model
      WHERE h.kind = 'llm'
    ) AS g
    LEFT JOIN llm_price_rows AS p ON p.model = g.priced_model AND {{ valid_on('p', 'g.day') }}
  ),
  {{ name }}_llm AS (
    SELECT bucket, {{ llm_sums('l') }}
    FROM {{ name }}_llm_rows AS l
    GROUP BY bucket
  ),
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
