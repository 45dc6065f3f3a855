{#-
  Row source, seed layout: the messages sent in the range by the tenant's (outlet's)
  conversations (from conversation_messages of sources/seed/window.sql, which holds them all).
  Columns: ts, sender_type, tokens_used.
-#}
{% import 'macros/request.sql' as r with context -%}
{% import 'macros/rows.sql' as rows with context -%}
SELECT w.timestamp AS ts, w.sender_type, {{ rows.tokens_used('w.metadata') }} AS tokens_used
    FROM conversation_messages AS w
    WHERE {{ r.in_range('w.timestamp') }}
