-- facts_slots for bigquery, seed layout, outlet filter off, by day
WITH touched AS (
  SELECT DISTINCT
    k.tenant_id,
    k.slot_start
  FROM crm_metrics_touched_slots AS k
), activity AS (
  SELECT
    f.tenant_id,
    f.outlet_id,
    TIMESTAMP_MICROS(
      DIV(UNIX_MICROS(f.started_at) + 62135596800000000, 900000000) * 900000000 - 62135596800000000
    ) AS slot_start,
    1 AS conversations,
    IF(f.status = 'active', 1, 0) AS active_conversations,
    IF(f.status = 'resolved', 1, 0) AS resolved_conversations,
    IF(f.status = 'handed_off', 1, 0) AS handed_off_conversations,
    IF(f.duration_us IS NULL, 0, 1) AS ended_conversations,
    COALESCE(f.duration_us, 0) AS duration_us,
    IF(f.handoff_at IS NULL, 0, 1) AS handoffs,
    IF(NOT f.handoff_at IS NULL AND f.handoff_trigger = 'keyword', 1, 0) AS keyword_handoffs,
    IF(NOT f.handoff_at IS NULL AND f.handoff_trigger = 'confidence', 1, 0) AS confidence_handoffs,
    COALESCE(TIMESTAMP_DIFF(f.handoff_at, f.started_at, MICROSECOND), 0) AS handoff_us,
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
    AND f.started_at < TIMESTAMP_ADD((
      SELECT
        MAX(k.slot_start)
      FROM touched AS k
    ), INTERVAL '15' MINUTE)
  UNION ALL
  SELECT
    f.tenant_id,
    f.outlet_id,
    TIMESTAMP_MICROS(
      DIV(UNIX_MICROS(f.ts) + 62135596800000000, 900000000) * 900000000 - 62135596800000000
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
    IF(f.sender_type = 'customer', 1, 0),
    IF(f.sender_type = 'llm', 1, 0),
    IF(f.sender_type = 'agent', 1, 0),
    IF(f.sender_type = 'llm', f.tokens_used, 0),
    IF(f.turn_start AND NOT f.reply_at IS NULL, 1, 0),
    IF(
      f.turn_start AND NOT f.reply_at IS NULL,
      TIMESTAMP_DIFF(f.reply_at, f.ts, MICROSECOND),
      0
    )
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
    AND f.ts < TIMESTAMP_ADD((
      SELECT
        MAX(k.slot_start)
      FROM touched AS k
    ), INTERVAL '15' MINUTE)
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
  a.tenant_id,
  a.outlet_id,
  a.slot_start
