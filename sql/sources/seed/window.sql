{#-
  The seed layout's window: common table expressions that its row sources read (included at
  the head of a metric template's WITH, each followed by a comma), so that a request reads
  what it needs from the seed's tables once:

  - window_conversations: the conversations the window involves, those started in the range
    and those owning a message in it (found from the messages' time and conversation alone);
  - conversation_messages: every message of those conversations, wherever it falls (history
    before the range decides where turns start; replies and handoff requests after it count),
    only within the look-around bound when there is one. The range's own messages are among
    them.

  So a request reads the index entries of the range's messages, then the messages of the
  window's conversations by conversation, never the tenant's whole history (docs/postgres.md,
  seed-layout reads).
-#}
{% import 'macros/request.sql' as r with context -%}
window_conversations AS (
    SELECT s.id AS conversation_id
    FROM conversations AS s
    WHERE {{ r.scope('s') }} AND {{ r.in_range('s.started_at') }}
    UNION DISTINCT
    SELECT c.id AS conversation_id
    FROM messages AS msg
    JOIN conversations AS c ON c.id = msg.conversation_id
    WHERE {{ r.scope('c') }} AND {{ r.in_range('msg.timestamp') }}{{ r.near('c.started_at') }}
  ),
  conversation_messages AS (
    SELECT m.id, m.conversation_id, m.timestamp, m.sender_type, m.metadata
    FROM messages AS m
    WHERE m.conversation_id IN (SELECT v.conversation_id FROM window_conversations AS v){{ r.near('m.timestamp') }}
  ),
