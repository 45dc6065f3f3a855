{#-
  Row source, seed layout: the messages sent in the range by the tenant's (outlet's)
  conversations. Columns: ts, sender_type, tokens_used.
-#}
{% import 'macros/request.sql' as r with context -%}
{% import 'macros/rows.sql' as rows with context -%}
SELECT msg.timestamp AS ts, msg.sender_type, {{ rows.tokens_used('msg.metadata') }} AS tokens_used
    FROM messages AS msg
    JOIN conversations AS c ON c.id = msg.conversation_id
    WHERE {{ r.scope('c') }} AND {{ r.in_range('msg.timestamp') }}
