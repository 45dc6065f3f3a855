{#-
  What a conversation's messages say about how it went (docs/metrics.md §7.1, §7.2), read by
  the contract's rules, for the conversations whose ids the query `conversation_ids` selects.
  Used by the seed layout's cohort (sql/sources/seed/cohort.sql) and by the derivation of
  conversation_facts (sql/derived/conversation_facts.sql).
-#}
{% import 'macros/rows.sql' as rows with context -%}

{#-
  Per conversation with any message: its message count, agent messages and llm tokens (all
  messages, whatever their timestamp), its first llm or agent message's timestamp, and the
  first agent message after its first handoff request in message order (the request itself
  never counts; a later message at the same timestamp does). One window over the messages in
  message order marks those after a request, so no self-join is needed.
  Columns: conversation_id, messages, agent_messages, llm_tokens, first_response_at, human_response_at.
-#}
{% macro conversation_outcomes(conversation_ids, messages='messages') -%}
SELECT
    o.conversation_id,
    COUNT(*) AS messages,
    COUNTIF(o.sender_type = 'agent') AS agent_messages,
    SUM(IF(o.sender_type = 'llm', o.tokens_used, 0)) AS llm_tokens,
    MIN(IF(o.sender_type IN ('llm', 'agent'), o.timestamp, NULL)) AS first_response_at,
    MIN(IF(o.sender_type = 'agent' AND o.after_handoff = 1, o.timestamp, NULL)) AS human_response_at
  FROM (
    SELECT
      m.conversation_id,
      m.sender_type,
      m.timestamp,
      {{ rows.tokens_used('m.metadata') }} AS tokens_used,
      MAX(IF({{ rows.handoff_requested('m.metadata') }}, 1, 0)) OVER (
        PARTITION BY m.conversation_id ORDER BY {{ rows.message_order('m') }}
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
      ) AS after_handoff
    FROM {{ messages }} AS m
    {% if conversation_ids %}WHERE m.conversation_id IN ({{ conversation_ids }}){% endif %}
  ) AS o
  GROUP BY o.conversation_id
{%- endmacro %}
