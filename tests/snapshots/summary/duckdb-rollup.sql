-- summary for duckdb, rollup layout, outlet filter off, by range
SELECT
  COALESCE(conversations, 0) AS total_conversations,
  COALESCE(messages, 0) AS total_messages,
  CASE WHEN replied_turns <> 0 THEN response_us / replied_turns ELSE NULL END / 1000000 AS average_response_time_seconds,
  CASE
    WHEN conversations <> 0
    THEN resolved_conversations / conversations
    ELSE NULL
  END AS resolution_rate,
  CASE WHEN conversations <> 0 THEN handoffs / conversations ELSE NULL END AS handoff_rate,
  COALESCE(llm_tokens, 0) * CAST($llm_price_per_million_tokens AS DOUBLE) / 1000000 + COALESCE(messages, 0) * CAST($whatsapp_price_per_message AS DOUBLE) AS total_cost
FROM (
  SELECT
    SUM(r.conversations) AS conversations,
    SUM(r.resolved_conversations) AS resolved_conversations,
    SUM(r.handoffs) AS handoffs,
    SUM(r.messages) AS messages,
    SUM(r.llm_tokens) AS llm_tokens,
    SUM(r.replied_turns) AS replied_turns,
    SUM(r.response_us) AS response_us
  FROM metric_slots AS r
  WHERE
    r.tenant_id = CAST($tenant_id AS TEXT)
    AND r.outlet_id IS NULL
    AND r.slot_start >= CAST($range_start AS TIMESTAMPTZ)
    AND r.slot_start < CAST($range_end AS TIMESTAMPTZ)
) AS sums
