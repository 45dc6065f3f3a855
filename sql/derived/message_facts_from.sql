-- name: message_facts_from
-- table: The rows of `message_facts` an event batch recomputes (crm_metrics/derived.py, `events`):
--   of each conversation listed in `crm_metrics_from` (sql/derived/suffix_starts.sql), its
--   messages at or after from_ts (all of them where whole), with the columns of
--   message_facts.sql. A message's turn start is decided by its previous non-system message:
--   within the recomputed messages, else before_sender; a turn's reply is the first later llm
--   or agent message, always among them.
-- grain: one row per recomputed message whose conversation exists, ordered by (tenant_id, ts).
-- columns:
--   tenant_id        STRING     as message_facts.sql
--   outlet_id        STRING     as message_facts.sql
--   conversation_id  STRING     as message_facts.sql
--   id               STRING     as message_facts.sql
--   ts               TIMESTAMP  as message_facts.sql
--   sender_type      STRING     as message_facts.sql
--   tokens_used      INT64      as message_facts.sql
--   turn_start       BOOL       as message_facts.sql
--   reply_at         TIMESTAMP  as message_facts.sql
--   response_us      INT64      as message_facts.sql
--   metadata         STRING     the message's metadata, as stored (JSON; cost_changes.sql reads it, message_facts has no such column)
{% import 'macros/rows.sql' as rows with context -%}
SELECT
  {{ rows.fact_columns('msg', 'c', 'w') }},
  -- Not a column of message_facts: for the costs' difference (cost_changes.sql).
  msg.metadata
FROM messages AS msg
JOIN crm_metrics_from AS r ON r.conversation_id = msg.conversation_id
JOIN conversations AS c ON c.id = msg.conversation_id
LEFT JOIN (
  SELECT
    m.id,
    m.conversation_id,
    m.sender_type = 'customer' AND COALESCE(COALESCE(LAG(m.sender_type) OVER (
      PARTITION BY m.conversation_id ORDER BY {{ rows.message_order('m') }}
    ), s.before_sender) <> 'customer', TRUE) AS turn_start,
    MIN(IF(m.sender_type IN ('llm', 'agent'), m.timestamp, NULL)) OVER (
      PARTITION BY m.conversation_id ORDER BY {{ rows.message_order_reversed('m') }}
      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
    ) AS reply_at
  FROM messages AS m
  JOIN crm_metrics_from AS s ON s.conversation_id = m.conversation_id
  WHERE m.sender_type <> 'system' AND m.timestamp >= s.from_ts
) AS w ON w.conversation_id = msg.conversation_id AND w.id = msg.id
WHERE msg.timestamp >= r.from_ts
  -- As message_facts.sql: only conversations of a UUID tenant.
  AND REGEXP_CONTAINS(LOWER(c.tenant_id), r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
ORDER BY tenant_id, msg.timestamp
