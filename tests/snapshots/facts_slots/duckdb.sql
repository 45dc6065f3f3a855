-- facts_slots for duckdb, seed layout, outlet filter off, by day
WITH touched AS (
  SELECT DISTINCT
    k.tenant_id,
    k.slot_start
  FROM crm_metrics_touched_slots AS k
), activity AS (
  SELECT
    f.tenant_id,
    f.outlet_id,
    MAKE_TIMESTAMPTZ(
      (
        EPOCH_US(f.started_at) + 62135596800000000
      ) // 900000000 * 900000000 - 62135596800000000
    ) AS slot_start,
    1 AS conversations,
    CASE WHEN f.status = 'active' THEN 1 ELSE 0 END AS active_conversations,
    CASE WHEN f.status = 'resolved' THEN 1 ELSE 0 END AS resolved_conversations,
    CASE WHEN f.status = 'handed_off' THEN 1 ELSE 0 END AS handed_off_conversations,
    CASE WHEN f.duration_us IS NULL THEN 0 ELSE 1 END AS ended_conversations,
    COALESCE(f.duration_us, 0) AS duration_us,
    CASE WHEN f.handoff_at IS NULL THEN 0 ELSE 1 END AS handoffs,
    CASE
      WHEN NOT f.handoff_at IS NULL AND f.handoff_trigger = 'keyword'
      THEN 1
      ELSE 0
    END AS keyword_handoffs,
    CASE
      WHEN NOT f.handoff_at IS NULL AND f.handoff_trigger = 'confidence'
      THEN 1
      ELSE 0
    END AS confidence_handoffs,
    COALESCE(DATE_DIFF('MICROSECOND', f.started_at, f.handoff_at), 0) AS handoff_us,
    0 AS messages,
    0 AS customer_messages,
    0 AS llm_messages,
    0 AS agent_messages,
    0 AS llm_tokens,
    0 AS replied_turns,
    0 AS response_us
  FROM conversation_facts AS f
  WHERE
    f.tenant_id IN (
      SELECT
        k.tenant_id
      FROM touched AS k
    )
    AND f.started_at >= (
      SELECT
        MIN(k.slot_start)
      FROM touched AS k
    )
    AND f.started_at < (
      (
        SELECT
          MAX(k.slot_start)
        FROM touched AS k
      ) + INTERVAL '15' MINUTE
    )
  UNION ALL
  SELECT
    f.tenant_id,
    f.outlet_id,
    MAKE_TIMESTAMPTZ(
      (
        EPOCH_US(f.ts) + 62135596800000000
      ) // 900000000 * 900000000 - 62135596800000000
    ) AS slot_start,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    1,
    CASE WHEN f.sender_type = 'customer' THEN 1 ELSE 0 END,
    CASE WHEN f.sender_type = 'llm' THEN 1 ELSE 0 END,
    CASE WHEN f.sender_type = 'agent' THEN 1 ELSE 0 END,
    CASE WHEN f.sender_type = 'llm' THEN f.tokens_used ELSE 0 END,
    CASE WHEN f.turn_start AND NOT f.reply_at IS NULL THEN 1 ELSE 0 END,
    CASE
      WHEN f.turn_start AND NOT f.reply_at IS NULL
      THEN DATE_DIFF('MICROSECOND', f.ts, f.reply_at)
      ELSE 0
    END
  FROM message_facts AS f
  WHERE
    f.tenant_id IN (
      SELECT
        k.tenant_id
      FROM touched AS k
    )
    AND f.ts >= (
      SELECT
        MIN(k.slot_start)
      FROM touched AS k
    )
    AND f.ts < (
      (
        SELECT
          MAX(k.slot_start)
        FROM touched AS k
      ) + INTERVAL '15' MINUTE
    )
)
SELECT
  a.tenant_id,
  a.outlet_id,
  a.slot_start,
  SUM(a.conversations) AS conversations,
  SUM(a.active_conversations) AS active_conversations,
  SUM(a.resolved_conversations) AS resolved_conversations,
  SUM(a.handed_off_conversations) AS handed_off_conversations,
  SUM(a.ended_conversations) AS ended_conversations,
  SUM(a.duration_us) AS duration_us,
  SUM(a.handoffs) AS handoffs,
  SUM(a.keyword_handoffs) AS keyword_handoffs,
  SUM(a.confidence_handoffs) AS confidence_handoffs,
  SUM(a.handoff_us) AS handoff_us,
  SUM(a.messages) AS messages,
  SUM(a.customer_messages) AS customer_messages,
  SUM(a.llm_messages) AS llm_messages,
  SUM(a.agent_messages) AS agent_messages,
  SUM(a.llm_tokens) AS llm_tokens,
  SUM(a.replied_turns) AS replied_turns,
  SUM(a.response_us) AS response_us
FROM activity AS a
JOIN touched AS k
  ON k.tenant_id = a.tenant_id AND k.slot_start = a.slot_start
GROUP BY
  GROUPING SETS (
    (a.tenant_id, a.slot_start),
    (a.tenant_id, a.outlet_id, a.slot_start)
  )
HAVING
  NOT a.outlet_id IS NULL OR GROUPING(a.outlet_id) = 1
ORDER BY
  a.tenant_id NULLS FIRST,
  a.outlet_id NULLS FIRST,
  a.slot_start NULLS FIRST
