{#-
  Row source, facts layout: the conversations started in the range, from conversation_facts
  (sql/derived/conversation_facts.sql). The same columns as sources/seed/conversations.sql.
-#}
{% import 'macros/request.sql' as r with context -%}
SELECT f.started_at, f.status, f.duration_us, f.handoff_at, f.handoff_trigger
    FROM conversation_facts AS f
    WHERE {{ r.scope('f', derived=True) }} AND {{ r.in_range('f.started_at') }}
