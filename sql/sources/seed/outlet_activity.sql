{#-
  Row source, seed layout: the tenant's activity in the range with the outlet of each row's
  conversation (lowercase, NULL without one), for the outlet breakdown (sql/metrics/outlets.sql):
  a row per conversation started in the range, per message sent in it and per answered customer
  turn starting in it, the messages read from conversation_messages of sources/seed/window.sql
  (within the look-around bound if any). Columns: outlet_id, conversations,
  resolved_conversations, handoffs, messages, llm_tokens, replied_turns, response_us.
-#}
{% import 'macros/request.sql' as r with context -%}
{% import 'macros/rows.sql' as rows with context -%}
SELECT
      LOWER(c.outlet_id) AS outlet_id,
      1 AS conversations,
      IF(c.status = 'resolved', 1, 0) AS resolved_conversations,
      IF(h.conversation_id IS NULL, 0, 1) AS handoffs,
      0 AS messages,
      0 AS llm_tokens,
      0 AS replied_turns,
      0 AS response_us
    FROM conversations AS c
    LEFT JOIN (
      {{ rows.first_handoffs(none, messages='conversation_messages') }}
    ) AS h ON h.conversation_id = c.id
    WHERE {{ r.scope('c') }} AND {{ r.in_range('c.started_at') }}
    UNION ALL
    SELECT LOWER(c.outlet_id), 0, 0, 0, 1, IF(msg.sender_type = 'llm', {{ rows.tokens_used('msg.metadata') }}, 0), 0, 0
    FROM conversation_messages AS msg
    JOIN conversations AS c ON c.id = msg.conversation_id
    WHERE {{ r.scope('c') }} AND {{ r.in_range('msg.timestamp') }}{{ r.near('c.started_at') }}
    UNION ALL
    SELECT LOWER(c.outlet_id), 0, 0, 0, 0, 0, 1, TIMESTAMP_DIFF(t.reply_at, t.turn_at, MICROSECOND)
    FROM (
      {{ rows.turn_windows(none, messages='conversation_messages') }}
    ) AS t
    JOIN conversations AS c ON c.id = t.conversation_id
    WHERE t.turn_start AND t.reply_at IS NOT NULL AND {{ r.in_range('t.turn_at') }}
      AND {{ r.scope('c') }}{{ r.near('c.started_at') }}
