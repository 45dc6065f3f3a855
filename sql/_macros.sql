{#-
  Shared pieces of the metric templates (Jinja macros, BigQuery SQL).

  Shape only: a macro may add or drop SQL, never carry a value. Every value travels as a
  bound @parameter. The variables a template may branch on:
    outlet       bool: the outlet filter is on
    granularity  'day', 'week' or 'month' (a summary sets 'range': one bucket, the whole range)
    layout       'seed': the seed's tables as users have them (messages carry no tenant;
                 metadata is JSON; turns and handoffs are derived at query time);
                 'facts': the embedded store (and PostgreSQL after `init-db --rollup`),
                 where `crm-metrics load` also keeps conversation_facts and message_facts
                 (sql/facts_*.sql) up to date: the same derived columns, typed, carrying the
                 tenant and ordered by (tenant, time).
                 'rollup': their `metric_slots` (sql/facts_slots.sql), every
                 sum and count of the contract per tenant (and outlet) and 15-minute UTC
                 slot; used where the range's local days are whole slots (`offsets` on).
    offsets      bool: local dates by the range's known UTC offsets (see local_date)
  Each row source below has the same columns in the 'seed' and 'facts' layouts; the 'rollup'
  layout has its own, leaner query (slot_series).
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
{%- if granularity == 'range' -%}
SELECT @start_date AS bucket
{%- else -%}
SELECT DISTINCT {{ bucket('d') }} AS bucket
  FROM UNNEST(GENERATE_DATE_ARRAY(@start_date, @end_date)) AS d
{%- endif -%}
{%- endmacro %}

{#-
  The tenant's conversations (and only the outlet's, when filtered). Requests name them in
  lowercase; the seed's tables may hold them in any case (rows that other applications write),
  so those are compared lowercased; the derived tables store them lowercased (`derived`).
-#}
{% macro scope(c, derived=False) -%}
{%- if derived -%}
{{ c }}.tenant_id = @tenant_id
{%- if outlet %} AND {{ c }}.outlet_id = @outlet_id{% endif %}
{%- else -%}
LOWER({{ c }}.tenant_id) = @tenant_id
{%- if outlet %} AND LOWER({{ c }}.outlet_id) = @outlet_id{% endif %}
{%- endif -%}
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
  Customer turns of the messages `m` (a filtered `messages` scan), each with its first reply.
  A turn starts at a `customer` message whose previous non-`system` message in the same
  conversation is absent or not `customer`; its reply is the first later `llm` or `agent`
  message, wherever it falls. Columns: id, conversation_id, turn_at, turn_start, reply_at.
  `where` restricts the conversations; every message of each is windowed, so history before
  the range decides where turns start.
-#}
{% macro turn_windows(where) -%}
SELECT
    m.id,
    m.conversation_id,
    m.timestamp AS turn_at,
    m.sender_type = 'customer' AND COALESCE(LAG(m.sender_type) OVER (
      PARTITION BY m.conversation_id ORDER BY {{ message_order('m') }}
    ) <> 'customer', TRUE) AS turn_start,
    MIN(IF(m.sender_type IN ('llm', 'agent'), m.timestamp, NULL)) OVER (
      PARTITION BY m.conversation_id ORDER BY {{ message_order('m') }}
      ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING
    ) AS reply_at
  FROM messages AS m
  WHERE m.sender_type <> 'system' AND {{ where }}
{%- endmacro %}

{#-
  The first handoff request of each conversation: its earliest message (any sender) whose
  metadata.handoff_requested is true. Columns: conversation_id, handoff_at, handoff_trigger.
-#}
{% macro first_handoffs(where) -%}
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
    WHERE {{ handoff_requested('m.metadata') }} AND {{ where }}
  ) AS requests
  WHERE n = 1
{%- endmacro %}

{#-
  Row source: the conversations started in the range.
  Columns: started_at, status, duration_us (ended_at - started_at in microseconds, NULL without
  ended_at), handoff_at and handoff_trigger (of the first handoff request, NULL without one).
-#}
{% macro conversations_in_range() -%}
{%- if layout == 'facts' -%}
SELECT f.started_at, f.status, f.duration_us, f.handoff_at, f.handoff_trigger
    FROM conversation_facts AS f
    WHERE {{ scope('f', derived=True) }} AND {{ in_range('f.started_at') }}
{%- else -%}
SELECT
      c.started_at,
      c.status,
      TIMESTAMP_DIFF(c.ended_at, c.started_at, MICROSECOND) AS duration_us,
      h.handoff_at,
      h.handoff_trigger
    FROM conversations AS c
    LEFT JOIN (
      {{ first_handoffs("m.conversation_id IN (SELECT s.id FROM conversations AS s WHERE " ~ scope('s') ~ " AND " ~ in_range('s.started_at') ~ ")") }}
    ) AS h ON h.conversation_id = c.id
    WHERE {{ scope('c') }} AND {{ in_range('c.started_at') }}
{%- endif -%}
{%- endmacro %}

{#- Row source: the messages sent in the range. Columns: ts, sender_type, tokens_used. -#}
{% macro messages_in_range() -%}
{%- if layout == 'facts' -%}
SELECT f.ts, f.sender_type, f.tokens_used
    FROM message_facts AS f
    WHERE {{ scope('f', derived=True) }} AND {{ in_range('f.ts') }}
{%- else -%}
SELECT msg.timestamp AS ts, msg.sender_type, {{ tokens_used('msg.metadata') }} AS tokens_used
    FROM messages AS msg
    JOIN conversations AS c ON c.id = msg.conversation_id
    WHERE {{ scope('c') }} AND {{ in_range('msg.timestamp') }}
{%- endif -%}
{%- endmacro %}

{#- Row source: the customer turns that start in the range. Columns: turn_at, reply_at. -#}
{% macro turns_in_range() -%}
{%- if layout == 'facts' -%}
SELECT f.ts AS turn_at, f.reply_at
    FROM message_facts AS f
    WHERE {{ scope('f', derived=True) }} AND {{ in_range('f.ts') }} AND f.turn_start
{%- else -%}
SELECT t.turn_at, t.reply_at
    FROM (
      {{ turn_windows("m.conversation_id IN (SELECT r.conversation_id FROM messages AS r JOIN conversations AS c ON c.id = r.conversation_id WHERE r.sender_type = 'customer' AND " ~ scope('c') ~ " AND " ~ in_range('r.timestamp') ~ ")") }}
    ) AS t
    WHERE t.turn_start AND {{ in_range('t.turn_at') }}
{%- endif -%}
{%- endmacro %}

{#-
  The local date of an instant. With `offsets` (with derived tables, where a range's UTC
  offsets are known: @tz_offset_0 before @tz_change_1, and so on) it is integer arithmetic on
  epoch microseconds, several times faster than a time zone conversion per row; days are
  counted from 1900-01-01 so that the division never sees a negative number.
-#}
{% macro local_date(ts) -%}
{%- if offsets -%}
DATE_ADD(DATE '1900-01-01', INTERVAL DIV(UNIX_MICROS({{ ts }}) + CASE
{%- for i in range(1, 5) %} WHEN UNIX_MICROS({{ ts }}) < @tz_change_{{ i }} THEN @tz_offset_{{ i - 1 }}{% endfor %} ELSE @tz_offset_4 END
  + 2208988800000000, 86400000000) DAY)
{%- else -%}
DATE({{ ts }}, @tz)
{%- endif -%}
{%- endmacro %}

{#- The local date of an instant, bucketed; the whole range is one bucket for a summary. -#}
{% macro bucket_of(ts) -%}
{%- if granularity == 'range' -%}
@start_date
{%- else -%}
{{ bucket(local_date(ts)) }}
{%- endif -%}
{%- endmacro %}

{#-
  The 15-minute UTC slot of an instant, as the instant it starts. Microseconds are counted
  from 0001-01-01 so that the division never sees a negative number.
-#}
{% macro slot(ts) -%}
TIMESTAMP_MICROS(DIV(UNIX_MICROS({{ ts }}) + 62135596800000000, 900000000) * 900000000 - 62135596800000000)
{%- endmacro %}

{#- The rollup's measures: the columns of metric_slots after its key, in the table's order. -#}
{% set SLOT_SUMS = ['conversations', 'active_conversations', 'resolved_conversations', 'handed_off_conversations', 'ended_conversations', 'duration_us', 'handoffs', 'keyword_handoffs', 'confidence_handoffs', 'handoff_us', 'messages', 'customer_messages', 'llm_messages', 'agent_messages', 'llm_tokens', 'replied_turns', 'response_us'] %}

{#- Each measure summed over the rows `rows`, under its own name. -#}
{% macro sum_slots(rows) -%}
{% for c in SLOT_SUMS %}SUM({{ rows }}.{{ c }}) AS {{ c }}{{ ',' if not loop.last }}
  {% endfor %}
{%- endmacro %}

{#-
  The dashboard's columns from the rollup (layout 'rollup'), one row per bucket in date order:
  the sums of the bucket's slots, with a zero row for every day of the range so that empty
  buckets appear without a join; rates and averages are sums divided by counts (NULL where the
  count is 0), exactly the raw rows' figures. Exact only where the range's bounds and local
  midnights fall on slot bounds (crm_metrics/request.py `on_slots`). Kept lean on purpose:
  every expression costs DuckDB parse, bind and optimize time, most of a small tenant's answer.
-#}
{% macro slot_series(costs=True) -%}
SELECT
  date,
  conversations AS total_conversations,
  active_conversations,
  resolved_conversations,
  handed_off_conversations,
  SAFE_DIVIDE(duration_us, ended_conversations) / 60000000 AS average_duration_minutes,
  SAFE_DIVIDE(resolved_conversations, conversations) AS resolution_rate,
  messages AS total_messages,
  customer_messages,
  llm_messages,
  agent_messages,
  SAFE_DIVIDE(response_us, replied_turns) / 1000000 AS average_response_time_seconds,
  handoffs AS total_handoffs,
  keyword_handoffs AS keyword_triggered,
  confidence_handoffs AS confidence_triggered,
  SAFE_DIVIDE(handoff_us, handoffs) / 60000000 AS average_time_to_handoff_minutes,
  SAFE_DIVIDE(handoffs, conversations) AS handoff_rate
  {%- if costs %},
  llm_messages AS total_llm_calls,
  llm_tokens AS total_tokens_used,
  llm_cost AS total_llm_cost,
  whatsapp_cost AS total_whatsapp_cost,
  llm_cost + whatsapp_cost AS total_cost,
  SAFE_DIVIDE(llm_cost + whatsapp_cost, conversations) AS cost_per_conversation
  {%- endif %}
FROM (
  SELECT *{% if costs %}, {{ llm_cost('llm_tokens') }} AS llm_cost, {{ whatsapp_cost('messages') }} AS whatsapp_cost{% endif %}
  FROM (
    SELECT
      bucket AS date,
      {{ sum_slots('slot_rows') }}
    FROM (
      SELECT {{ bucket_of('r.slot_start') }} AS bucket{% for c in SLOT_SUMS %}, r.{{ c }}{% endfor %}
      {{ slots_in_range() }}
      UNION ALL
      SELECT {{ bucket('d') }}{% for c in SLOT_SUMS %}, 0{% endfor %}
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
      AND {{ in_range('r.slot_start') }}
{%- endmacro %}

{#- Per bucket of the conversations' start: the conversation and handoff counts and sums. -#}
{% macro conversation_aggregates() -%}
SELECT
      {{ bucket_of('started_at') }} AS bucket,
      COUNT(*) AS total_conversations,
      COUNTIF(status = 'active') AS active_conversations,
      COUNTIF(status = 'resolved') AS resolved_conversations,
      COUNTIF(status = 'handed_off') AS handed_off_conversations,
      AVG(duration_us) / 60000000 AS average_duration_minutes,
      COUNT(handoff_at) AS total_handoffs,
      COUNTIF(handoff_trigger = 'keyword') AS keyword_triggered,
      COUNTIF(handoff_trigger = 'confidence') AS confidence_triggered,
      AVG(TIMESTAMP_DIFF(handoff_at, started_at, MICROSECOND)) / 60000000 AS average_time_to_handoff_minutes
    FROM ({{ conversations_in_range() }}) AS conversation_rows
    GROUP BY bucket
{%- endmacro %}

{#- Per bucket of the messages' timestamps: counts by sender type and tokens of llm messages. -#}
{% macro message_aggregates() -%}
SELECT
      {{ bucket_of('ts') }} AS bucket,
      COUNT(*) AS total_messages,
      COUNTIF(sender_type = 'customer') AS customer_messages,
      COUNTIF(sender_type = 'llm') AS llm_messages,
      COUNTIF(sender_type = 'agent') AS agent_messages,
      SUM(IF(sender_type = 'llm', tokens_used, 0)) AS total_tokens_used
    FROM ({{ messages_in_range() }}) AS message_rows
    GROUP BY bucket
{%- endmacro %}

{#- Per bucket of the customer turns' starts: the mean time to the first reply. -#}
{% macro turn_aggregates() -%}
SELECT
      {{ bucket_of('turn_at') }} AS bucket,
      AVG(TIMESTAMP_DIFF(reply_at, turn_at, MICROSECOND)) / 1000000 AS average_response_time_seconds
    FROM ({{ turns_in_range() }}) AS turn_rows
    WHERE reply_at IS NOT NULL
    GROUP BY bucket
{%- endmacro %}

{#- Output columns from the aggregates `c` (conversations), `n` (messages), `t` (turns). -#}
{% macro conversation_columns(c) -%}
COALESCE({{ c }}.total_conversations, 0) AS total_conversations,
  COALESCE({{ c }}.active_conversations, 0) AS active_conversations,
  COALESCE({{ c }}.resolved_conversations, 0) AS resolved_conversations,
  COALESCE({{ c }}.handed_off_conversations, 0) AS handed_off_conversations,
  {{ c }}.average_duration_minutes,
  SAFE_DIVIDE({{ c }}.resolved_conversations, {{ c }}.total_conversations) AS resolution_rate
{%- endmacro %}

{% macro message_columns(n, t) -%}
COALESCE({{ n }}.total_messages, 0) AS total_messages,
  COALESCE({{ n }}.customer_messages, 0) AS customer_messages,
  COALESCE({{ n }}.llm_messages, 0) AS llm_messages,
  COALESCE({{ n }}.agent_messages, 0) AS agent_messages,
  {{ t }}.average_response_time_seconds
{%- endmacro %}

{% macro handoff_columns(c) -%}
COALESCE({{ c }}.total_handoffs, 0) AS total_handoffs,
  COALESCE({{ c }}.keyword_triggered, 0) AS keyword_triggered,
  COALESCE({{ c }}.confidence_triggered, 0) AS confidence_triggered,
  {{ c }}.average_time_to_handoff_minutes,
  SAFE_DIVIDE({{ c }}.total_handoffs, {{ c }}.total_conversations) AS handoff_rate
{%- endmacro %}

{#- Money: tokens x price per million tokens / 1e6, messages x price per message. -#}
{% macro llm_cost(tokens) -%}
{{ tokens }} * @llm_price_per_million_tokens / 1000000
{%- endmacro %}

{% macro whatsapp_cost(messages) -%}
{{ messages }} * @whatsapp_price_per_message
{%- endmacro %}

{% macro cost_columns(n, c) -%}
{%- set tokens, messages = 'COALESCE(' ~ n ~ '.total_tokens_used, 0)', 'COALESCE(' ~ n ~ '.total_messages, 0)' -%}
COALESCE({{ n }}.llm_messages, 0) AS total_llm_calls,
  {{ tokens }} AS total_tokens_used,
  {{ llm_cost(tokens) }} AS total_llm_cost,
  {{ whatsapp_cost(messages) }} AS total_whatsapp_cost,
  {{ llm_cost(tokens) }} + {{ whatsapp_cost(messages) }} AS total_cost,
  SAFE_DIVIDE({{ llm_cost(tokens) }} + {{ whatsapp_cost(messages) }}, {{ c }}.total_conversations) AS cost_per_conversation
{%- endmacro %}
