{#-
  The rollup (layout 'rollup'): metric_slots, every sum and count of the contract per tenant
  (and outlet) and 15-minute UTC slot (sql/derived/metric_slots.sql), and the series read from
  it. Exact only where the range's bounds and local midnights fall on slot bounds
  (crm_metrics/planning.py).
-#}
{% import 'macros/request.sql' as req with context -%}
{% import 'macros/series.sql' as s with context -%}
{% import 'macros/costs.sql' as costs_macros with context -%}

{#-
  The 15-minute UTC slot of an instant, as the instant it starts. Microseconds are counted
  from 0001-01-01 so that the division never sees a negative number.
-#}
{% macro slot(ts) -%}
TIMESTAMP_MICROS(DIV(UNIX_MICROS({{ ts }}) + {{ MICROS_FROM_0001_TO_EPOCH }}, {{ SLOT_MICROS }}) * {{ SLOT_MICROS }} - {{ MICROS_FROM_0001_TO_EPOCH }})
{%- endmacro %}

{#- The rollup's measures: the columns of metric_slots after its key, in the table's order. -#}
{% set SLOT_SUMS = ['conversations', 'active_conversations', 'resolved_conversations', 'handed_off_conversations', 'ended_conversations', 'duration_us', 'handoffs', 'keyword_handoffs', 'confidence_handoffs', 'handoff_us', 'messages', 'customer_messages', 'llm_messages', 'agent_messages', 'llm_tokens', 'replied_turns', 'response_us'] %}

{#- The measures (SLOT_SUMS, in order) one conversation's facts row `f` adds to the slot of its start. -#}
{% macro conversation_measures(f) -%}
1 AS conversations,
      IF({{ f }}.status = 'active', 1, 0) AS active_conversations,
      IF({{ f }}.status = 'resolved', 1, 0) AS resolved_conversations,
      IF({{ f }}.status = 'handed_off', 1, 0) AS handed_off_conversations,
      IF({{ f }}.duration_us IS NULL, 0, 1) AS ended_conversations,
      COALESCE({{ f }}.duration_us, 0) AS duration_us,
      IF({{ f }}.handoff_at IS NULL, 0, 1) AS handoffs,
      IF({{ f }}.handoff_at IS NOT NULL AND {{ f }}.handoff_trigger = 'keyword', 1, 0) AS keyword_handoffs,
      IF({{ f }}.handoff_at IS NOT NULL AND {{ f }}.handoff_trigger = 'confidence', 1, 0) AS confidence_handoffs,
      COALESCE(TIMESTAMP_DIFF({{ f }}.handoff_at, {{ f }}.started_at, MICROSECOND), 0) AS handoff_us,
      0 AS messages,
      0 AS customer_messages,
      0 AS llm_messages,
      0 AS agent_messages,
      0 AS llm_tokens,
      0 AS replied_turns,
      0 AS response_us
{%- endmacro %}

{#- The measures one message's facts row `f` adds to the slot of its timestamp. -#}
{% macro message_measures(f) -%}
0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
      1,
      IF({{ f }}.sender_type = 'customer', 1, 0),
      IF({{ f }}.sender_type = 'llm', 1, 0),
      IF({{ f }}.sender_type = 'agent', 1, 0),
      IF({{ f }}.sender_type = 'llm', {{ f }}.tokens_used, 0),
      IF({{ f }}.turn_start AND {{ f }}.reply_at IS NOT NULL, 1, 0),
      IF({{ f }}.turn_start AND {{ f }}.reply_at IS NOT NULL, TIMESTAMP_DIFF({{ f }}.reply_at, {{ f }}.ts, MICROSECOND), 0)
{%- endmacro %}

{#- Each measure summed over the rows `rows`, under its own name. -#}
{% macro sum_slots(rows, priced=False) -%}
{% for c in SLOT_SUMS + (costs_macros.PRICED_SUMS if priced else []) %}SUM({{ rows }}.{{ c }}) AS {{ c }}{{ ',' if not loop.last }}
  {% endfor %}
{%- endmacro %}

{#-
  The dashboard's columns from the rollup (layout 'rollup'), one row per bucket in date order:
  the sums of the bucket's slots, with a zero row for every day of the range so that empty
  buckets appear without a join; rates and averages are sums divided by counts (NULL where the
  count is 0), exactly the raw rows' figures. Exact only where the range's bounds and local
  midnights fall on slot bounds (crm_metrics/planning.py `on_slots`). Kept lean on purpose:
  every expression costs DuckDB parse, bind and optimize time, most of a small tenant's answer.
-#}
{% macro slot_series(costs=True, priced=False) -%}
SELECT
  date,
  conversations AS total_conversations,
  active_conversations,
  resolved_conversations,
  handed_off_conversations,
  SAFE_DIVIDE(duration_us, ended_conversations) / {{ MICROS_PER_MINUTE }} AS average_duration_minutes,
  SAFE_DIVIDE(resolved_conversations, conversations) AS resolution_rate,
  messages AS total_messages,
  customer_messages,
  llm_messages,
  agent_messages,
  SAFE_DIVIDE(response_us, replied_turns) / {{ MICROS_PER_SECOND }} AS average_response_time_seconds,
  handoffs AS total_handoffs,
  keyword_handoffs AS keyword_triggered,
  confidence_handoffs AS confidence_triggered,
  SAFE_DIVIDE(handoff_us, handoffs) / {{ MICROS_PER_MINUTE }} AS average_time_to_handoff_minutes,
  SAFE_DIVIDE(handoffs, conversations) AS handoff_rate,
  replied_turns AS answered_turns,
  response_us
  {%- if priced %},
  llm_messages AS total_llm_calls,
  llm_tokens AS total_tokens_used,
  input_tokens AS llm_input_tokens,
  output_tokens AS llm_output_tokens,
  llm_cost AS total_llm_cost,
  whatsapp_charged_messages,
  whatsapp_free_messages,
  whatsapp_unpriced_messages,
  whatsapp_marketing_cost,
  whatsapp_utility_cost,
  whatsapp_authentication_cost,
  total_whatsapp_cost,
  llm_cost + total_whatsapp_cost AS total_cost,
  SAFE_DIVIDE(llm_cost + total_whatsapp_cost, conversations) AS cost_per_conversation
  {%- endif %}
  {%- if costs %},
  llm_messages AS total_llm_calls,
  llm_tokens AS total_tokens_used,
  llm_cost AS total_llm_cost,
  whatsapp_cost AS total_whatsapp_cost,
  llm_cost + whatsapp_cost AS total_cost,
  SAFE_DIVIDE(llm_cost + whatsapp_cost, conversations) AS cost_per_conversation
  {%- endif %}
FROM (
  SELECT *{% if costs %}, {{ s.llm_cost('llm_tokens') }} AS llm_cost, {{ s.whatsapp_cost('messages') }} AS whatsapp_cost{% endif %}
  FROM (
    SELECT
      bucket AS date,
      {{ sum_slots('slot_rows', priced) }}
    FROM (
      SELECT {{ req.bucket_of('r.slot_start') }} AS bucket{% for c in SLOT_SUMS %}, r.{{ c }}{% endfor %}{% if priced %}{% for c in costs_macros.PRICED_SUMS %}, {{ 'r.' ~ c if stored_prices else '0' }} AS {{ c }}{% endfor %}{% endif %}
      {{ slots_in_range() }}
      {%- if priced and not stored_prices %}
      UNION ALL
      {#- Priced (COST_MODEL=priced, docs/costs.md) by other tables than the rollup's rate card
          (`stored_prices`: its priced columns, read above): cost_slots' rows of the range,
          priced, in the same sums: one aggregation for the whole statement. #}
      SELECT {{ req.bucket_of('c.slot_start') }}{% for c in SLOT_SUMS %}, 0{% endfor %},
      {{ costs_macros.slot_costs() }}
      {%- endif %}
      UNION ALL
      SELECT {{ req.bucket('d') }}{% for c in SLOT_SUMS %}, 0{% endfor %}{% if priced %}{% for c in costs_macros.PRICED_SUMS %}, 0{% endfor %}{% endif %}
      FROM UNNEST(GENERATE_DATE_ARRAY(@start_date, @end_date)) AS d
    ) AS slot_rows
    GROUP BY bucket
  ) AS sums
) AS money
ORDER BY date
{%- endmacro %}

{#- A series' columns alone, from slot_series (the prices are parameters of the costs only). -#}
{% macro series_from_slots(columns, costs=False) -%}
SELECT date, {{ columns | join(', ') }}
FROM ({{ slot_series(costs) }}) AS series
ORDER BY date
{%- endmacro %}

{#- The rollup's rows `r` of the range: the whole tenant's, or the outlet's. -#}
{% macro slots_in_range() -%}
FROM metric_slots AS r
    WHERE r.tenant_id = @tenant_id
      AND {% if outlet %}r.outlet_id = @outlet_id{% else %}r.outlet_id IS NULL{% endif %}
      AND {{ req.in_range('r.slot_start') }}
{%- endmacro %}

