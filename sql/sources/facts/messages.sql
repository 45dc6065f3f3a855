{#-
  Row source, facts layout: the messages sent in the range, from message_facts
  (sql/derived/message_facts.sql). The same columns as sources/seed/messages.sql.
-#}
{% import 'macros/request.sql' as r with context -%}
SELECT f.ts, f.sender_type, f.tokens_used
    FROM message_facts AS f
    WHERE {{ r.scope('f', derived=True) }} AND {{ r.in_range('f.ts') }}
