{#-
  Row source, seed layout: the conversations started in the range with how they went (§7.1,
  §7.2), derived from all their messages, whatever their timestamps (conversation_messages of
  sources/seed/window.sql: within the look-around bound when there is one).
  Columns: started_at, status, handoff_at (the first handoff request, NULL without one),
  messages, agent_messages, llm_tokens (of all its messages), first_response_us (the wait for
  its first llm or agent message, from started_at) and human_response_us (for its first agent
  message after the first handoff request, from handoff_at; NULL without one), in
  microseconds.
-#}
{% import 'macros/request.sql' as r with context -%}
{% import 'macros/rows.sql' as rows with context -%}
{% import 'macros/outcomes.sql' as outcomes with context -%}
SELECT
      c.started_at,
      c.status,
      h.handoff_at,
      COALESCE(o.messages, 0) AS messages,
      COALESCE(o.agent_messages, 0) AS agent_messages,
      COALESCE(o.llm_tokens, 0) AS llm_tokens,
      TIMESTAMP_DIFF(o.first_response_at, c.started_at, MICROSECOND) AS first_response_us,
      TIMESTAMP_DIFF(o.human_response_at, h.handoff_at, MICROSECOND) AS human_response_us
    FROM conversations AS c
    LEFT JOIN (
      {{ rows.first_handoffs(none, messages='conversation_messages') }}
    ) AS h ON h.conversation_id = c.id
    LEFT JOIN (
      {{ outcomes.conversation_outcomes(none, messages='conversation_messages') }}
    ) AS o ON o.conversation_id = c.id
    WHERE {{ r.scope('c') }} AND {{ r.in_range('c.started_at') }}
