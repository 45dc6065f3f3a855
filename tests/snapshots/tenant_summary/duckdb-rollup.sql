-- tenant_summary for duckdb, rollup layout, outlet filter off, by day
WITH slot_aggregates AS (
  SELECT
    SUM(r.conversations) AS total_conversations,
    SUM(r.resolved_conversations) AS resolved_conversations,
    SUM(r.handoffs) AS total_handoffs,
    SUM(r.messages) AS total_messages,
    SUM(r.llm_tokens) AS total_tokens_used,
    CASE
      WHEN SUM(r.replied_turns) <> 0
      THEN SUM(r.response_us) / SUM(r.replied_turns)
      ELSE NULL
    END / 1000000 AS average_response_time_seconds
  FROM metric_slots AS r
  WHERE
    r.tenant_id = CAST($tenant_id AS TEXT)
    AND r.outlet_id IS NULL
    AND r.slot_start >= CAST($range_start AS TIMESTAMPTZ)
    AND r.slot_start < CAST($range_end AS TIMESTAMPTZ)
)
SELECT
  COALESCE(a.total_conversations, 0) AS total_conversations,
  COALESCE(a.total_messages, 0) AS total_messages,
  a.average_response_time_seconds,
  CASE
    WHEN a.total_conversations <> 0
    THEN a.resolved_conversations / a.total_conversations
    ELSE NULL
  END AS resolution_rate,
  CASE
    WHEN a.total_conversations <> 0
    THEN a.total_handoffs / a.total_conversations
    ELSE NULL
  END AS handoff_rate,
  COALESCE(a.total_tokens_used, 0) * CAST($llm_price_per_million_tokens AS DOUBLE) / 1000000 + COALESCE(a.total_messages, 0) * CAST($whatsapp_price_per_message AS DOUBLE) AS total_cost
FROM (
  SELECT
    1 AS one
) AS range_row
LEFT JOIN slot_aggregates AS a
  ON TRUE
