{#-
  Reading the seed's rows by the contract's rules (docs/metrics.md §1, §3): metadata keys, the
  order of a conversation's messages, customer turns and first handoffs. Used by the seed
  layout's row sources (sql/sources/seed/) and by the derivation (sql/derived/).
-#}

{#- The order of a conversation's messages: timestamp, then id compared byte by byte. -#}
{% macro message_order(m) -%}
{{ m }}.timestamp, CAST({{ m }}.id AS BYTES)
{%- endmacro %}

{#- The same order reversed (last message first). -#}
{% macro message_order_reversed(m) -%}
{{ m }}.timestamp DESC, CAST({{ m }}.id AS BYTES) DESC
{%- endmacro %}

{#-
  The columns of a message_facts row (sql/derived/message_facts.sql) for the message `msg` of
  conversation `c`, its turn window `w` (turn_start, reply_at) joined by the message's id.
-#}
{% macro fact_columns(msg, c, w) -%}
LOWER({{ c }}.tenant_id) AS tenant_id,
  LOWER({{ c }}.outlet_id) AS outlet_id,
  {{ msg }}.conversation_id,
  {{ msg }}.id,
  {{ msg }}.timestamp AS ts,
  {{ msg }}.sender_type,
  {{ tokens_used(msg ~ '.metadata') }} AS tokens_used,
  COALESCE({{ w }}.turn_start, FALSE) AS turn_start,
  IF({{ w }}.turn_start, {{ w }}.reply_at, NULL) AS reply_at,
  -- Appended last: a store made before this column gets it by ALTER TABLE (sql/schema/).
  -- Stored so that reads do no timestamp arithmetic (PostgreSQL's is numeric, ~1 µs a row).
  IF({{ w }}.turn_start, TIMESTAMP_DIFF({{ w }}.reply_at, {{ msg }}.timestamp, MICROSECOND), NULL) AS response_us
{%- endmacro %}

{#-
  metadata.tokens_used as an integer: a whole number in plain ASCII digits, optionally signed,
  JSON number or string; anything else is 0. More than 18 digits would overflow INT64: 0 too.
-#}
{% macro tokens_used(metadata) -%}
{{ whole_number(metadata, 'tokens_used') }}
{%- endmacro %}

{#- A metadata key read by the tokens_used rule (input_tokens, output_tokens: docs/metrics.md §8). -#}
{% macro whole_number(metadata, key) -%}
CASE
    WHEN {{ readable_number(metadata, key) }}
      THEN CAST(JSON_VALUE({{ metadata }}, '$.{{ key }}') AS INT64)
    ELSE 0
  END
{%- endmacro %}

{% macro readable_number(metadata, key) -%}
REGEXP_CONTAINS(JSON_VALUE({{ metadata }}, '$.{{ key }}'), r'^[+-]?[0-9]{1,18}$')
{%- endmacro %}

{#- Priced costs (§8): either token key is present, a whole number (else tokens_used is priced flat). -#}
{% macro token_keys(metadata) -%}
COALESCE({{ readable_number(metadata, 'input_tokens') }} OR {{ readable_number(metadata, 'output_tokens') }}, FALSE)
{%- endmacro %}

{#- The value at a key path (`pricing.category`) when it is a JSON string, else NULL. -#}
{% macro json_string(metadata, path) -%}
IF(JSON_TYPE(JSON_QUERY({{ metadata }}, '$.{{ path }}')) = 'string', JSON_VALUE({{ metadata }}, '$.{{ path }}'), NULL)
{%- endmacro %}

{#- A WhatsApp message is charged: Meta's pricing object says type "regular" (§8). Callers
    keep to llm, agent and system messages. -#}
{% macro charged(metadata) -%}
COALESCE(JSON_VALUE({{ metadata }}, '$.pricing.type') = 'regular', FALSE)
{%- endmacro %}

{#- The number a market is looked up by: customer_phone without one leading '+' (nothing else
    removed); no number is '' (only '*' matches it). -#}
{% macro market_number(phone) -%}
COALESCE(IF(STARTS_WITH({{ phone }}, '+'), SUBSTR({{ phone }}, 2), {{ phone }}), '')
{%- endmacro %}

{#- metadata.handoff_requested is JSON true or the string "true"; nothing else counts. -#}
{% macro handoff_requested(metadata) -%}
JSON_VALUE({{ metadata }}, '$.handoff_requested') = 'true'
{%- endmacro %}

{#-
  Customer turns of the conversations whose ids the query `conversation_ids` selects, each
  message with whether it starts a turn and the turn's first reply. A turn starts at a
  `customer` message whose previous non-`system` message in the same conversation is absent or
  not `customer`; its reply is the first later `llm` or `agent` message, wherever it falls.
  Every message of each conversation is windowed, so history before any range decides where
  turns start. The messages come from `messages` (a table or a CTE of the seed's columns),
  those of the conversations `conversation_ids` selects (none: all of them).
  Columns: id, conversation_id, turn_at, turn_start, reply_at.
-#}
{% macro turn_windows(conversation_ids, messages='messages') -%}
SELECT
    m.id,
    m.conversation_id,
    m.timestamp AS turn_at,
    m.sender_type = 'customer' AND COALESCE(LAG(m.sender_type) OVER (
      PARTITION BY m.conversation_id ORDER BY {{ message_order('m') }}
    ) <> 'customer', TRUE) AS turn_start,
    {#- The first reply after the message: over the messages before it in the reversed order,
        a frame that only grows, so engines add each row once. Over the messages after it in
        the order (a frame whose start moves), PostgreSQL aggregated each row's frame anew:
        quadratic in the conversation's length (a 200-message conversation, 20,000 rows read). #}
    MIN(IF(m.sender_type IN ('llm', 'agent'), m.timestamp, NULL)) OVER (
      PARTITION BY m.conversation_id ORDER BY {{ message_order_reversed('m') }}
      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
    ) AS reply_at
  FROM {{ messages }} AS m
  WHERE m.sender_type <> 'system'{% if conversation_ids %} AND m.conversation_id IN ({{ conversation_ids }}){% endif %}
{%- endmacro %}

{#-
  The first handoff request of each conversation that `conversation_ids` selects: its earliest
  message (any sender) whose metadata.handoff_requested is true (`messages`: as in
  turn_windows). Columns: conversation_id, handoff_at, handoff_trigger.
-#}
{% macro first_handoffs(conversation_ids, messages='messages') -%}
SELECT conversation_id, handoff_at, handoff_trigger
  FROM (
    SELECT
      m.conversation_id,
      m.timestamp AS handoff_at,
      JSON_VALUE(m.metadata, '$.trigger') AS handoff_trigger,
      ROW_NUMBER() OVER (
        PARTITION BY m.conversation_id ORDER BY {{ message_order('m') }}
      ) AS n
    FROM {{ messages }} AS m
    WHERE {{ handoff_requested('m.metadata') }}{% if conversation_ids %} AND m.conversation_id IN ({{ conversation_ids }}){% endif %}
  ) AS requests
  WHERE n = 1
{%- endmacro %}
