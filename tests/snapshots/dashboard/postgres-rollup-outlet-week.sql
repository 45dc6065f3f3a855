-- dashboard for postgres, rollup layout, outlet filter on, by week
WITH buckets AS (
  SELECT DISTINCT
    GREATEST(
      CAST(DATE_TRUNC('WEEK', CAST(d AS TIMESTAMP)) AS DATE),
      CAST(%(start_date)s AS DATE)
    ) AS bucket
  FROM (
    SELECT
      CAST(value AS DATE)
    FROM GENERATE_SERIES(
      CAST(CAST(%(start_date)s AS DATE) AS TIMESTAMP),
      CAST(CAST(%(end_date)s AS DATE) AS TIMESTAMP),
      INTERVAL '1 DAY'
    ) AS _t(value)
  ) AS _t0(d)
), slot_aggregates AS (
  SELECT
    GREATEST(
      CAST(DATE_TRUNC(
        'WEEK',
        CAST(CAST('1900-01-01' AS DATE) + CAST(CAST(CAST(EXTRACT(EPOCH FROM r.slot_start) * 1000000 AS BIGINT) + CASE
          WHEN CAST(EXTRACT(EPOCH FROM r.slot_start) * 1000000 AS BIGINT) < CAST(%(tz_change_1)s AS BIGINT)
          THEN CAST(%(tz_offset_0)s AS BIGINT)
          WHEN CAST(EXTRACT(EPOCH FROM r.slot_start) * 1000000 AS BIGINT) < CAST(%(tz_change_2)s AS BIGINT)
          THEN CAST(%(tz_offset_1)s AS BIGINT)
          WHEN CAST(EXTRACT(EPOCH FROM r.slot_start) * 1000000 AS BIGINT) < CAST(%(tz_change_3)s AS BIGINT)
          THEN CAST(%(tz_offset_2)s AS BIGINT)
          WHEN CAST(EXTRACT(EPOCH FROM r.slot_start) * 1000000 AS BIGINT) < CAST(%(tz_change_4)s AS BIGINT)
          THEN CAST(%(tz_offset_3)s AS BIGINT)
          ELSE CAST(%(tz_offset_4)s AS BIGINT)
        END + 2208988800000000 AS BIGINT) / 86400000000 AS INT) AS TIMESTAMP)
      ) AS DATE),
      CAST(%(start_date)s AS DATE)
    ) AS bucket,
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
    AND r.outlet_id = CAST(%(outlet_id)s AS TEXT)
    AND r.slot_start >= CAST(%(range_start)s AS TIMESTAMPTZ)
    AND r.slot_start < CAST(%(range_end)s AS TIMESTAMPTZ)
  GROUP BY
    bucket
)
SELECT
  b.bucket AS date,
  COALESCE(a.total_conversations, 0) AS total_conversations,
  COALESCE(a.active_conversations, 0) AS active_conversations,
  COALESCE(a.resolved_conversations, 0) AS resolved_conversations,
  COALESCE(a.handed_off_conversations, 0) AS handed_off_conversations,
  a.average_duration_minutes,
  CASE
    WHEN a.total_conversations <> 0
    THEN CAST(a.resolved_conversations AS DOUBLE PRECISION) / a.total_conversations
    ELSE NULL
  END AS resolution_rate,
  COALESCE(a.total_messages, 0) AS total_messages,
  COALESCE(a.customer_messages, 0) AS customer_messages,
  COALESCE(a.llm_messages, 0) AS llm_messages,
  COALESCE(a.agent_messages, 0) AS agent_messages,
  a.average_response_time_seconds,
  COALESCE(a.total_handoffs, 0) AS total_handoffs,
  COALESCE(a.keyword_triggered, 0) AS keyword_triggered,
  COALESCE(a.confidence_triggered, 0) AS confidence_triggered,
  a.average_time_to_handoff_minutes,
  CASE
    WHEN a.total_conversations <> 0
    THEN CAST(a.total_handoffs AS DOUBLE PRECISION) / a.total_conversations
    ELSE NULL
  END AS handoff_rate,
  COALESCE(a.llm_messages, 0) AS total_llm_calls,
  COALESCE(a.total_tokens_used, 0) AS total_tokens_used,
  CAST(COALESCE(a.total_tokens_used, 0) * CAST(%(llm_price_per_million_tokens)s AS DOUBLE PRECISION) AS DOUBLE PRECISION) / 1000000 AS total_llm_cost,
  COALESCE(a.total_messages, 0) * CAST(%(whatsapp_price_per_message)s AS DOUBLE PRECISION) AS total_whatsapp_cost,
  CAST(COALESCE(a.total_tokens_used, 0) * CAST(%(llm_price_per_million_tokens)s AS DOUBLE PRECISION) AS DOUBLE PRECISION) / 1000000 + COALESCE(a.total_messages, 0) * CAST(%(whatsapp_price_per_message)s AS DOUBLE PRECISION) AS total_cost,
  CASE
    WHEN a.total_conversations <> 0
    THEN CAST((
      CAST(COALESCE(a.total_tokens_used, 0) * CAST(%(llm_price_per_million_tokens)s AS DOUBLE PRECISION) AS DOUBLE PRECISION) / 1000000 + COALESCE(a.total_messages, 0) * CAST(%(whatsapp_price_per_message)s AS DOUBLE PRECISION)
    ) AS DOUBLE PRECISION) / a.total_conversations
    ELSE NULL
  END AS cost_per_conversation
FROM buckets AS b
LEFT JOIN slot_aggregates AS a
  ON a.bucket = b.bucket
ORDER BY
  date NULLS FIRST
