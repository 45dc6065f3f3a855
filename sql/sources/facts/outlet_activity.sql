{#-
  Row source, facts layout: the tenant's activity in the range by outlet, from the derived
  tables. The same columns as sources/seed/outlet_activity.sql.
-#}
{% import 'macros/request.sql' as r with context -%}
    SELECT
      f.outlet_id,
      1 AS conversations,
      IF(f.status = 'resolved', 1, 0) AS resolved_conversations,
      IF(f.handoff_at IS NULL, 0, 1) AS handoffs,
      0 AS messages,
      0 AS llm_tokens,
      0 AS replied_turns,
      0 AS response_us
    FROM conversation_facts AS f
    WHERE {{ r.scope('f', derived=True) }} AND {{ r.in_range('f.started_at') }}
    UNION ALL
    {#- A turn is a message row: its start's turn_start and response_us (NULL without a reply). #}
    SELECT
      f.outlet_id, 0, 0, 0, 1,
      IF(f.sender_type = 'llm', f.tokens_used, 0),
      IF(f.response_us IS NOT NULL, 1, 0),
      COALESCE(f.response_us, 0)
    FROM message_facts AS f
    WHERE {{ r.scope('f', derived=True) }} AND {{ r.in_range('f.ts') }}
