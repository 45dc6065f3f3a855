-- tenant_summary for postgres, rollup layout, outlet filter off, by day
WITH slot_aggregates AS (
  SELECT
    CAST(%(start_date)s AS DATE) AS bucket,
    SUM(r.conversations) AS total_conversations,
    SUM(r.active_conversations) AS active_conversations,
    SUM(r.resolved_conversations) AS resolved_conversations,
    SUM(r.handed_off_conversations) AS handed_off_conversations,
    CAST(CASE
      WHEN SUM(r.ended_conversations) <> 0
      THEN CAST(SUM(r.duration_us) AS DOUBLE PRECISION) / SUM(r.ended_conversations)
      ELSE NULL
    END AS DOUBLE PRECISION) / 60000000 AS average_duration_minutes,
    SUM(r.handoffs) AS total_handoffs,
    SUM(r.keyword_handoffs) AS keyword_triggered,
    SUM(r.confidence_handoffs) AS confidence_triggered,
    CAST(CASE
      WHEN SUM(r.handoffs) <> 0
      THEN CAST(SUM(r.handoff_us) AS DOUBLE PRECISION) / SUM(r.handoffs)
      ELSE NULL
    END AS DOUBLE PRECISION) / 60000000 AS average_time_to_handoff_minutes,
    SUM(r.messages) AS total_messages,
    SUM(r.customer_messages) AS customer_messages,
    SUM(r.llm_messages) AS llm_messages,
    SUM(r.agent_messages) AS agent_messages,
    SUM(r.llm_tokens) AS total_tokens_used,
    CAST(CASE
      WHEN SUM(r.replied_turns) <> 0
      THEN CAST(SUM(r.response_us) AS DOUBLE PRECISION) / SUM(r.replied_turns)
      ELSE NULL
    END AS DOUBLE PRECISION) / 1000000 AS average_response_time_seconds
  FROM metric_slots AS r
  WHERE
    r.tenant_id = CAST(%(tenant_id)s AS TEXT)
    AND r.outlet_id IS NULL
    AND r.slot_start >= CAST(%(range_start)s AS TIMESTAMPTZ)
    AND r.slot_start < CAST(%(range_end)s AS TIMESTAMPTZ)
  GROUP BY
    bucket
)
SELECT
  COALESCE(a.total_conversations, 0) AS total_conversations,
  COALESCE(a.total_messages, 0) AS total_messages,
  a.average_response_time_seconds,
  CASE
    WHEN a.total_conversations <> 0
    THEN CAST(a.resolved_conversations AS DOUBLE PRECISION) / a.total_conversations
    ELSE NULL
  END AS resolution_rate,
  CASE
    WHEN a.total_conversations <> 0
    THEN CAST(a.total_handoffs AS DOUBLE PRECISION) / a.total_conversations
    ELSE NULL
  END AS handoff_rate,
  CAST(COALESCE(a.total_tokens_used, 0) * CAST(%(llm_price_per_million_tokens)s AS DOUBLE PRECISION) AS DOUBLE PRECISION) / 1000000 + COALESCE(a.total_messages, 0) * CAST(%(whatsapp_price_per_message)s AS DOUBLE PRECISION) AS total_cost
FROM (
  SELECT
    1 AS one
) AS range_row
LEFT JOIN slot_aggregates AS a
  ON TRUE
