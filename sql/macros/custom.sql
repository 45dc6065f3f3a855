{#-
  The stable library of custom metrics (docs/custom-metrics.md): what a metric file of
  CRM_METRICS_PATH imports as

      {% import 'macros/custom.sql' as crm with context %}

  Row sources (`FROM ({{ crm.messages() }}) AS m`), each restricted to the request's tenant
  (and outlet, when the request names one) and to its range, by the contract's rules
  (docs/metrics.md §1, §3):

    conversations()  the conversations started in the range: id, outlet_id (lowercase),
                     customer_phone, status, started_at, ended_at, last_message_at
    messages()       the messages sent in the range: id, conversation_id, sender_type,
                     sender_id, content, timestamp, metadata, tokens_used (§1's reading),
                     handoff_requested (BOOL, §1's reading)
    turns()          the customer turns that start in the range (§3; history before the range
                     decides where they start): conversation_id, turn_at, reply_at (NULL: no
                     reply), reply_sender_type, reply_sender_id, response_us (microseconds)
    handoffs()       the conversations started in the range that were handed off, with their
                     first handoff request: conversation_id, started_at, handoff_at,
                     handoff_trigger

  Expressions: bucket_of(ts) (the request's bucket of an instant, in its timezone),
  buckets() (a query of every bucket of the range, to make a series dense), local_date(ts),
  local_hour(ts), local_weekday(ts) (ISO, 1 = Monday), in_range(ts) (the instant falls in the
  range), scope(alias) (the tenant/outlet predicate of a scan of `conversations`),
  tokens_used(metadata), handoff_requested(metadata), message_order(alias) (ORDER BY a
  conversation's messages), and exact quantiles: rank_in(partition), count_in(partition),
  quantile_seconds(p) over a column `us` (sql/macros/quantiles.sql).

  The parameters these use are the library's: a metric declares tenant_id, and those of
  outlet_id, start_date, end_date, tz, range_start, range_end its SQL uses (the check at load
  names any missing; local dates need tz). Local hours and weekdays read the range's UTC offsets (tz_change_*,
  tz_offset_*), which the library binds without a declaration.
-#}
{% import 'macros/request.sql' as r with context -%}
{% import 'macros/rows.sql' as rows with context -%}
{% import 'macros/quantiles.sql' as quantiles with context -%}

{% macro scope(c) -%}{{ r.scope(c) }}{%- endmacro %}
{% macro in_range(ts) -%}{{ r.in_range(ts) }}{%- endmacro %}
{#- Local dates by the engine's time zone conversion (the seed layout's way, as the built-in
    answers on the seed's tables): the offsets' integer form is for hours and weekdays, and
    the BigQuery emulator cannot run it as a DATE_ADD. -#}
{% macro local_date(ts) -%}DATE({{ ts }}, @tz){%- endmacro %}
{% macro bucket_of(ts) -%}
{%- if granularity == 'range' -%}@start_date{%- else -%}{{ r.bucket(local_date(ts)) }}{%- endif -%}
{%- endmacro %}
{% macro buckets() -%}{{ r.buckets() }}{%- endmacro %}
{% macro tokens_used(metadata) -%}{{ rows.tokens_used(metadata) }}{%- endmacro %}
{% macro handoff_requested(metadata) -%}{{ rows.handoff_requested(metadata) }}{%- endmacro %}
{% macro message_order(m) -%}{{ rows.message_order(m) }}{%- endmacro %}
{% macro rank_in(partition) -%}{{ quantiles.rank_in(partition) }}{%- endmacro %}
{% macro count_in(partition) -%}{{ quantiles.count_in(partition) }}{%- endmacro %}
{% macro quantile_seconds(p) -%}{{ quantiles.quantile_seconds(p) }}{%- endmacro %}

{#- Local microseconds since 1900-01-01 (a Monday), by the range's UTC offsets. -#}
{% macro _local_micros(ts) -%}
(UNIX_MICROS({{ ts }}) + CASE
{%- for i in range(1, OFFSET_SLOTS + 1) %} WHEN UNIX_MICROS({{ ts }}) < @tz_change_{{ i }} THEN @tz_offset_{{ i - 1 }}{% endfor %} ELSE @tz_offset_{{ OFFSET_SLOTS }} END
  + {{ MICROS_FROM_1900_TO_EPOCH }})
{%- endmacro %}

{#- The local hour (0-23) of an instant's wall-clock time in the request's timezone. -#}
{% macro local_hour(ts) -%}
{%- if offsets -%}
DIV(MOD({{ _local_micros(ts) }}, {{ MICROS_PER_DAY }}), {{ MICROS_PER_MINUTE * 60 }})
{%- else -%}
EXTRACT(HOUR FROM CAST({{ ts }} AS TIMESTAMP) AT TIME ZONE @tz)
{%- endif -%}
{%- endmacro %}

{#- The ISO weekday (1 = Monday .. 7 = Sunday) of an instant's local date. -#}
{% macro local_weekday(ts) -%}
{%- if offsets -%}
MOD(DIV({{ _local_micros(ts) }}, {{ MICROS_PER_DAY }}), 7) + 1
{%- else -%}
MOD(DATE_DIFF(DATE({{ ts }}, @tz), DATE '1900-01-01', DAY), 7) + 1
{%- endif -%}
{%- endmacro %}

{% macro conversations() -%}
SELECT
      c.id,
      LOWER(c.outlet_id) AS outlet_id,
      c.customer_phone,
      c.status,
      c.started_at,
      c.ended_at,
      c.last_message_at
    FROM conversations AS c
    WHERE {{ r.scope('c') }} AND {{ r.in_range('c.started_at') }}
{%- endmacro %}

{% macro messages() -%}
SELECT
      m.id,
      m.conversation_id,
      m.sender_type,
      m.sender_id,
      m.content,
      m.timestamp,
      m.metadata,
      {{ rows.tokens_used('m.metadata') }} AS tokens_used,
      COALESCE({{ rows.handoff_requested('m.metadata') }}, FALSE) AS handoff_requested
    FROM messages AS m
    JOIN conversations AS c ON c.id = m.conversation_id
    WHERE {{ r.scope('c') }} AND {{ r.in_range('m.timestamp') }}
{%- endmacro %}

{#- The tenant's non-system messages in conversation order (every one, history included). -#}
{% macro _ordered() -%}
SELECT
          m.conversation_id,
          m.sender_type,
          m.sender_id,
          m.timestamp,
          ROW_NUMBER() OVER (PARTITION BY m.conversation_id ORDER BY {{ rows.message_order('m') }}) AS position,
          LAG(m.sender_type) OVER (PARTITION BY m.conversation_id ORDER BY {{ rows.message_order('m') }}) AS previous_sender
        FROM messages AS m
        JOIN conversations AS c ON c.id = m.conversation_id
        WHERE {{ r.scope('c') }} AND m.sender_type <> 'system'
{%- endmacro %}

{% macro turns() -%}
SELECT
      t.conversation_id,
      t.timestamp AS turn_at,
      reply.timestamp AS reply_at,
      reply.sender_type AS reply_sender_type,
      reply.sender_id AS reply_sender_id,
      TIMESTAMP_DIFF(reply.timestamp, t.timestamp, MICROSECOND) AS response_us
    FROM (
      SELECT
        o.*,
        MIN(IF(o.sender_type IN ('llm', 'agent'), o.position, NULL)) OVER (
          PARTITION BY o.conversation_id ORDER BY o.position ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING
        ) AS reply_position
      FROM ({{ _ordered() }}) AS o
    ) AS t
    LEFT JOIN ({{ _ordered() }}) AS reply
      ON reply.conversation_id = t.conversation_id AND reply.position = t.reply_position
    WHERE t.sender_type = 'customer' AND COALESCE(t.previous_sender <> 'customer', TRUE)
      AND {{ r.in_range('t.timestamp') }}
{%- endmacro %}

{% macro handoffs() -%}
SELECT c.id AS conversation_id, c.started_at, h.handoff_at, h.handoff_trigger
    FROM conversations AS c
    JOIN (
      {{ rows.first_handoffs(none, messages='(SELECT hm.* FROM messages AS hm JOIN conversations AS hc ON hc.id = hm.conversation_id WHERE ' ~ r.scope('hc') ~ ')') }}
    ) AS h ON h.conversation_id = c.id
    WHERE {{ r.scope('c') }} AND {{ r.in_range('c.started_at') }}
{%- endmacro %}
