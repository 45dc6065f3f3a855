-- dashboard for postgres, rollup layout, outlet filter off, by day
SELECT
  date,
  conversations AS total_conversations,
  active_conversations,
  resolved_conversations,
  handed_off_conversations,
  CAST(CASE
    WHEN ended_conversations <> 0
    THEN CAST(duration_us AS DOUBLE PRECISION) / ended_conversations
    ELSE NULL
  END AS DOUBLE PRECISION) / 60000000 AS average_duration_minutes,
  CASE
    WHEN conversations <> 0
    THEN CAST(resolved_conversations AS DOUBLE PRECISION) / conversations
    ELSE NULL
  END AS resolution_rate,
  messages AS total_messages,
  customer_messages,
  llm_messages,
  agent_messages,
  CAST(CASE
    WHEN replied_turns <> 0
    THEN CAST(response_us AS DOUBLE PRECISION) / replied_turns
    ELSE NULL
  END AS DOUBLE PRECISION) / 1000000 AS average_response_time_seconds,
  handoffs AS total_handoffs,
  keyword_handoffs AS keyword_triggered,
  confidence_handoffs AS confidence_triggered,
  CAST(CASE
    WHEN handoffs <> 0
    THEN CAST(handoff_us AS DOUBLE PRECISION) / handoffs
    ELSE NULL
  END AS DOUBLE PRECISION) / 60000000 AS average_time_to_handoff_minutes,
  CASE
    WHEN conversations <> 0
    THEN CAST(handoffs AS DOUBLE PRECISION) / conversations
    ELSE NULL
  END AS handoff_rate,
  replied_turns AS answered_turns,
  response_us,
  llm_messages AS total_llm_calls,
  llm_tokens AS total_tokens_used,
  llm_cost AS total_llm_cost,
  whatsapp_cost AS total_whatsapp_cost,
  llm_cost + whatsapp_cost AS total_cost,
  CASE
    WHEN conversations <> 0
    THEN CAST((
      llm_cost + whatsapp_cost
    ) AS DOUBLE PRECISION) / conversations
    ELSE NULL
  END AS cost_per_conversation
FROM (
  SELECT
    *,
    CAST(llm_tokens * CAST(%(llm_price_per_million_tokens)s AS DOUBLE PRECISION) AS DOUBLE PRECISION) / 1000000 AS llm_cost,
    messages * CAST(%(whatsapp_price_per_message)s AS DOUBLE PRECISION) AS whatsapp_cost
  FROM (
    SELECT
      bucket AS date,
      SUM(slot_rows.conversations) AS conversations,
      SUM(slot_rows.active_conversations) AS active_conversations,
      SUM(slot_rows.resolved_conversations) AS resolved_conversations,
      SUM(slot_rows.handed_off_conversations) AS handed_off_conversations,
      SUM(slot_rows.ended_conversations) AS ended_conversations,
      SUM(slot_rows.duration_us) AS duration_us,
      SUM(slot_rows.handoffs) AS handoffs,
      SUM(slot_rows.keyword_handoffs) AS keyword_handoffs,
      SUM(slot_rows.confidence_handoffs) AS confidence_handoffs,
      SUM(slot_rows.handoff_us) AS handoff_us,
      SUM(slot_rows.messages) AS messages,
      SUM(slot_rows.customer_messages) AS customer_messages,
      SUM(slot_rows.llm_messages) AS llm_messages,
      SUM(slot_rows.agent_messages) AS agent_messages,
      SUM(slot_rows.llm_tokens) AS llm_tokens,
      SUM(slot_rows.replied_turns) AS replied_turns,
      SUM(slot_rows.response_us) AS response_us
    FROM (
      SELECT
        CAST((
          CAST(r.slot_start AS TIMESTAMPTZ) AT TIME ZONE 'UTC' + CASE
            WHEN r.slot_start < TO_TIMESTAMP(CAST(CAST(%(tz_change_1)s AS BIGINT) AS BIGINT) / 1000000) + (
              CAST(CAST(%(tz_change_1)s AS BIGINT) AS BIGINT) %% 1000000
            ) * INTERVAL '1 MICROSECOND'
            THEN CAST(%(tz_offset_0)s AS BIGINT) * INTERVAL '1 MICROSECOND'
            WHEN r.slot_start < TO_TIMESTAMP(CAST(CAST(%(tz_change_2)s AS BIGINT) AS BIGINT) / 1000000) + (
              CAST(CAST(%(tz_change_2)s AS BIGINT) AS BIGINT) %% 1000000
            ) * INTERVAL '1 MICROSECOND'
            THEN CAST(%(tz_offset_1)s AS BIGINT) * INTERVAL '1 MICROSECOND'
            WHEN r.slot_start < TO_TIMESTAMP(CAST(CAST(%(tz_change_3)s AS BIGINT) AS BIGINT) / 1000000) + (
              CAST(CAST(%(tz_change_3)s AS BIGINT) AS BIGINT) %% 1000000
            ) * INTERVAL '1 MICROSECOND'
            THEN CAST(%(tz_offset_2)s AS BIGINT) * INTERVAL '1 MICROSECOND'
            WHEN r.slot_start < TO_TIMESTAMP(CAST(CAST(%(tz_change_4)s AS BIGINT) AS BIGINT) / 1000000) + (
              CAST(CAST(%(tz_change_4)s AS BIGINT) AS BIGINT) %% 1000000
            ) * INTERVAL '1 MICROSECOND'
            THEN CAST(%(tz_offset_3)s AS BIGINT) * INTERVAL '1 MICROSECOND'
            ELSE CAST(%(tz_offset_4)s AS BIGINT) * INTERVAL '1 MICROSECOND'
          END
        ) AS DATE) AS bucket,
        r.conversations,
        r.active_conversations,
        r.resolved_conversations,
        r.handed_off_conversations,
        r.ended_conversations,
        r.duration_us,
        r.handoffs,
        r.keyword_handoffs,
        r.confidence_handoffs,
        r.handoff_us,
        r.messages,
        r.customer_messages,
        r.llm_messages,
        r.agent_messages,
        r.llm_tokens,
        r.replied_turns,
        r.response_us
      FROM metric_slots AS r
      WHERE
        r.tenant_id = CAST(%(tenant_id)s AS TEXT)
        AND r.outlet_id IS NULL
        AND r.slot_start >= CAST(%(range_start)s AS TIMESTAMPTZ)
        AND r.slot_start < CAST(%(range_end)s AS TIMESTAMPTZ)
      UNION ALL
      SELECT
        d,
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
        0,
        0,
        0,
        0,
        0,
        0,
        0
      FROM (
        SELECT
          CAST(value AS DATE)
        FROM GENERATE_SERIES(
          CAST(CAST(%(start_date)s AS DATE) AS TIMESTAMP),
          CAST(CAST(%(end_date)s AS DATE) AS TIMESTAMP),
          INTERVAL '1 DAY'
        ) AS _t(value)
      ) AS _t0(d)
    ) AS slot_rows
    GROUP BY
      bucket
  ) AS sums
) AS money
ORDER BY
  date NULLS FIRST
