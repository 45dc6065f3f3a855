-- name: message_facts
-- table: The rows of `message_facts` (a derived table: DuckDB, PostgreSQL with --rollup) for the messages of
--   the conversations listed in `crm_metrics_touched`: each message with its conversation's
--   tenant and outlet, its tokens_used read by the contract's rule, and whether it starts a
--   customer turn (with the turn's first reply). `crm-metrics load` recomputes them for every
--   conversation a file touches, so a late message re-decides its neighbours' turns.
-- grain: one row per message whose conversation exists, ordered by (tenant_id, ts).
-- columns:
--   tenant_id        STRING     the tenant of the message's conversation, lowercased
--   outlet_id        STRING     that conversation's outlet, lowercased, or null
--   conversation_id  STRING     the conversation
--   id               STRING     the message
--   ts               TIMESTAMP  when it was sent
--   sender_type      STRING     customer, llm, agent, system, or anything else
--   tokens_used      INT64      metadata.tokens_used if a whole number, else 0
--   turn_start       BOOL       a customer message whose previous non-system message is absent or not customer
--   reply_at         TIMESTAMP  for a turn start, the first later llm or agent message; else null
--   response_us      INT64      for a turn start with a reply, reply_at - ts in microseconds; else null
{% import 'macros/rows.sql' as rows with context -%}
SELECT
  {{ rows.fact_columns('msg', 'c', 'w') }}
FROM messages AS msg
JOIN conversations AS c ON c.id = msg.conversation_id
LEFT JOIN (
  {{ rows.turn_windows("SELECT t.conversation_id FROM crm_metrics_touched AS t") }}
) AS w ON w.conversation_id = msg.conversation_id AND w.id = msg.id
WHERE msg.conversation_id IN (SELECT t.conversation_id FROM crm_metrics_touched AS t)
  -- A request's tenant is always a UUID (compared lowercased): rows of other tenant ids, which
  -- only other writers can store (the loader refuses them), can never answer one, and leaving
  -- them out lets the store keep tenant_id as a UUID.
  AND REGEXP_CONTAINS(LOWER(c.tenant_id), r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
ORDER BY tenant_id, msg.timestamp
