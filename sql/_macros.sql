{#-
  Shared pieces of the metric templates (Jinja macros, BigQuery SQL).

  Shape only: a macro may add or drop SQL, never carry a value. Every value travels as a
  bound @parameter. The variables a template may branch on are `outlet` (bool: the outlet
  filter is on) and `granularity` ('day', 'week' or 'month').
-#}

{#- The bucket a local date falls in, labelled by its first date and clipped to the range. -#}
{% macro bucket(local_date) -%}
{%- if granularity == 'day' -%}
{{ local_date }}
{%- elif granularity == 'week' -%}
GREATEST(DATE_TRUNC({{ local_date }}, WEEK(MONDAY)), @start_date)
{%- else -%}
GREATEST(DATE_TRUNC({{ local_date }}, MONTH), @start_date)
{%- endif -%}
{%- endmacro %}

{#- Every bucket of the range, so that each series is dense. -#}
{% macro buckets() -%}
SELECT DISTINCT {{ bucket('d') }} AS bucket
  FROM UNNEST(GENERATE_DATE_ARRAY(@start_date, @end_date)) AS d
{%- endmacro %}

{#- The tenant's conversations (and only the outlet's, when filtered). -#}
{% macro scope(c) -%}
{{ c }}.tenant_id = @tenant_id
{%- if outlet %} AND {{ c }}.outlet_id = @outlet_id{% endif %}
{%- endmacro %}

{#- An instant falls in the range: [start_date 00:00, end_date + 1 00:00) local time. -#}
{% macro in_range(ts) -%}
{{ ts }} >= @range_start AND {{ ts }} < @range_end
{%- endmacro %}

{#- The order of a conversation's messages: timestamp, then id compared byte by byte. -#}
{% macro message_order(m) -%}
{{ m }}.timestamp, CAST({{ m }}.id AS BYTES)
{%- endmacro %}

{#-
  metadata.tokens_used as an integer: a whole number in plain ASCII digits, optionally signed,
  JSON number or string; anything else is 0. More than 18 digits would overflow INT64: 0 too.
-#}
{% macro tokens_used(metadata) -%}
CASE
    WHEN REGEXP_CONTAINS(JSON_VALUE({{ metadata }}, '$.tokens_used'), r'^[+-]?[0-9]{1,18}$')
      THEN CAST(JSON_VALUE({{ metadata }}, '$.tokens_used') AS INT64)
    ELSE 0
  END
{%- endmacro %}

{#- metadata.handoff_requested is JSON true or the string "true"; nothing else counts. -#}
{% macro handoff_requested(metadata) -%}
JSON_VALUE({{ metadata }}, '$.handoff_requested') = 'true'
{%- endmacro %}

{#-
  Customer turns of the tenant's messages, with the time of their first reply.
  A turn starts at a `customer` message whose previous non-`system` message in the same
  conversation is absent or not `customer`; its reply is the first later `llm` or `agent`
  message, wherever it falls. History before the range decides where turns start, so the
  window runs over every message of each conversation that has a customer message in range.
  Columns: turn_at, reply_at (NULL when nobody replied).
-#}
{% macro customer_turns() -%}
SELECT ts AS turn_at, reply_at
  FROM (
    SELECT
      m.timestamp AS ts,
      m.sender_type,
      LAG(m.sender_type) OVER (
        PARTITION BY m.conversation_id ORDER BY {{ message_order('m') }}
      ) AS previous_sender,
      MIN(IF(m.sender_type IN ('llm', 'agent'), m.timestamp, NULL)) OVER (
        PARTITION BY m.conversation_id ORDER BY {{ message_order('m') }}
        ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING
      ) AS reply_at
    FROM messages AS m
    JOIN conversations AS c ON c.id = m.conversation_id
    WHERE {{ scope('c') }}
      AND m.sender_type <> 'system'
      AND m.conversation_id IN (
        SELECT r.conversation_id
        FROM messages AS r
        WHERE r.sender_type = 'customer' AND {{ in_range('r.timestamp') }}
      )
  ) AS ordered
  WHERE sender_type = 'customer'
    AND (previous_sender IS NULL OR previous_sender <> 'customer')
    AND {{ in_range('ts') }}
{%- endmacro %}

{#-
  The first handoff request of each conversation: the earliest message (any sender) whose
  metadata.handoff_requested is true. Columns: conversation_id, handoff_at, handoff_trigger.
-#}
{% macro first_handoffs() -%}
SELECT conversation_id, handoff_at, handoff_trigger
  FROM (
    SELECT
      m.conversation_id,
      m.timestamp AS handoff_at,
      JSON_VALUE(m.metadata, '$.trigger') AS handoff_trigger,
      ROW_NUMBER() OVER (
        PARTITION BY m.conversation_id ORDER BY {{ message_order('m') }}
      ) AS n
    FROM messages AS m
    JOIN conversations AS c ON c.id = m.conversation_id
    WHERE {{ scope('c') }}
      AND {{ in_range('c.started_at') }}
      AND {{ handoff_requested('m.metadata') }}
  ) AS requests
  WHERE n = 1
{%- endmacro %}
