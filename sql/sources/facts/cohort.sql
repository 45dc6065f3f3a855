{#-
  Row source, facts layout: the conversations started in the range with how they went, from
  conversation_facts (sql/derived/conversation_facts.sql). The same columns as
  sources/seed/cohort.sql.
-#}
{% import 'macros/request.sql' as r with context -%}
SELECT f.started_at, f.status, f.handoff_at, f.messages, f.agent_messages, f.llm_tokens, f.first_response_us, f.human_response_us
    FROM conversation_facts AS f
    WHERE {{ r.scope('f', derived=True) }} AND {{ r.in_range('f.started_at') }}
