{#-
  The series' aggregates and columns over the row sources of the 'seed' and 'facts' layouts,
  and money. Each aggregate reads the rows its caller gives (a `{% call %}` block including
  sql/sources/<layout>/...sql). The 'rollup' layout has its own, leaner query
  (macros/rollup.sql). Buckets, scope and local dates: macros/request.sql.
-#}
{% import 'macros/request.sql' as r with context -%}

{#- Per bucket of the conversations' start (rows of sources/<layout>/conversations.sql): the conversation and handoff counts and sums. -#}
{% macro conversation_aggregates() -%}
SELECT
      {{ r.bucket_of('started_at') }} AS bucket,
      COUNT(*) AS total_conversations,
      COUNTIF(status = 'active') AS active_conversations,
      COUNTIF(status = 'resolved') AS resolved_conversations,
      COUNTIF(status = 'handed_off') AS handed_off_conversations,
      AVG(duration_us) / {{ MICROS_PER_MINUTE }} AS average_duration_minutes,
      COUNT(handoff_at) AS total_handoffs,
      COUNTIF(handoff_trigger = 'keyword') AS keyword_triggered,
      COUNTIF(handoff_trigger = 'confidence') AS confidence_triggered,
      AVG(TIMESTAMP_DIFF(handoff_at, started_at, MICROSECOND)) / {{ MICROS_PER_MINUTE }} AS average_time_to_handoff_minutes
    FROM ({{ caller() }}) AS conversation_rows
    GROUP BY bucket
{%- endmacro %}

{#- Per bucket of the messages' timestamps (rows of sources/<layout>/messages.sql): counts by sender type and tokens of llm messages. -#}
{% macro message_aggregates() -%}
SELECT
      {{ r.bucket_of('ts') }} AS bucket,
      COUNT(*) AS total_messages,
      COUNTIF(sender_type = 'customer') AS customer_messages,
      COUNTIF(sender_type = 'llm') AS llm_messages,
      COUNTIF(sender_type = 'agent') AS agent_messages,
      SUM(IF(sender_type = 'llm', tokens_used, 0)) AS total_tokens_used
    FROM ({{ caller() }}) AS message_rows
    GROUP BY bucket
{%- endmacro %}

{#- Per bucket of the customer turns' starts (rows of sources/<layout>/turns.sql): the mean time to the first reply; with `sums`, also the count and microsecond sum it divides (the dashboard's, which the overview's summary adds up). -#}
{% macro turn_aggregates(sums=False) -%}
SELECT
      {{ r.bucket_of('turn_at') }} AS bucket,
      AVG(response_us) / {{ MICROS_PER_SECOND }} AS average_response_time_seconds
      {%- if sums %},
      COUNT(*) AS answered_turns,
      SUM(response_us) AS response_us
      {%- endif %}
    FROM ({{ caller() }}) AS turn_rows
    WHERE response_us IS NOT NULL
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

{#-
  The answered turns and their response times' sum in microseconds, from the turns `t`: not
  shown in the dashboard, they let the overview (crm_metrics/answers.py) add up the range's
  mean response time exactly from the buckets' rows (docs/metrics.md §4: never a mean of means).
-#}
{% macro turn_sums(t) -%}
COALESCE({{ t }}.answered_turns, 0) AS answered_turns,
  COALESCE({{ t }}.response_us, 0) AS response_us
{%- endmacro %}

{#- Money: tokens x price per million tokens / 1e6, messages x price per message. -#}
{% macro llm_cost(tokens) -%}
{{ tokens }} * @llm_price_per_million_tokens / {{ MICROS_PER_SECOND }}
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
