-- dashboard for duckdb, rollup layout, outlet filter on, by week
SELECT
  date,
  conversations AS total_conversations,
  active_conversations,
  resolved_conversations,
  handed_off_conversations,
  CASE
    WHEN ended_conversations <> 0
    THEN duration_us / ended_conversations
    ELSE NULL
  END / 60000000 AS average_duration_minutes,
  CASE
    WHEN conversations <> 0
    THEN resolved_conversations / conversations
    ELSE NULL
  END AS resolution_rate,
  messages AS total_messages,
  customer_messages,
  llm_messages,
  agent_messages,
  CASE WHEN replied_turns <> 0 THEN response_us / replied_turns ELSE NULL END / 1000000 AS average_response_time_seconds,
  handoffs AS total_handoffs,
  keyword_handoffs AS keyword_triggered,
  confidence_handoffs AS confidence_triggered,
  CASE WHEN handoffs <> 0 THEN handoff_us / handoffs ELSE NULL END / 60000000 AS average_time_to_handoff_minutes,
  CASE WHEN conversations <> 0 THEN handoffs / conversations ELSE NULL END AS handoff_rate,
  replied_turns AS answered_turns,
  response_us,
  llm_messages AS total_llm_calls,
  llm_tokens AS total_tokens_used,
  llm_cost AS total_llm_cost,
  whatsapp_cost AS total_whatsapp_cost,
  llm_cost + whatsapp_cost AS total_cost,
  CASE
    WHEN conversations <> 0
    THEN (
      llm_cost + whatsapp_cost
    ) / conversations
    ELSE NULL
  END AS cost_per_conversation
FROM (
  SELECT
    *,
    llm_tokens * CAST($llm_price_per_million_tokens AS DOUBLE) / 1000000 AS llm_cost,
    messages * CAST($whatsapp_price_per_message AS DOUBLE) AS whatsapp_cost
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
        CASE
          WHEN CAST(DATE_TRUNC(
            'WEEK',
            CAST('1900-01-01' AS DATE) + CAST((
              EPOCH_US(r.slot_start) + CASE
                WHEN EPOCH_US(r.slot_start) < CAST($tz_change_1 AS BIGINT)
                THEN CAST($tz_offset_0 AS BIGINT)
                WHEN EPOCH_US(r.slot_start) < CAST($tz_change_2 AS BIGINT)
                THEN CAST($tz_offset_1 AS BIGINT)
                WHEN EPOCH_US(r.slot_start) < CAST($tz_change_3 AS BIGINT)
                THEN CAST($tz_offset_2 AS BIGINT)
                WHEN EPOCH_US(r.slot_start) < CAST($tz_change_4 AS BIGINT)
                THEN CAST($tz_offset_3 AS BIGINT)
                ELSE CAST($tz_offset_4 AS BIGINT)
              END + 2208988800000000
            ) // 86400000000 AS INT)
          ) AS DATE) IS NULL
          OR CAST($start_date AS DATE) IS NULL
          THEN NULL
          ELSE GREATEST(
            CAST(DATE_TRUNC(
              'WEEK',
              CAST('1900-01-01' AS DATE) + CAST((
                EPOCH_US(r.slot_start) + CASE
                  WHEN EPOCH_US(r.slot_start) < CAST($tz_change_1 AS BIGINT)
                  THEN CAST($tz_offset_0 AS BIGINT)
                  WHEN EPOCH_US(r.slot_start) < CAST($tz_change_2 AS BIGINT)
                  THEN CAST($tz_offset_1 AS BIGINT)
                  WHEN EPOCH_US(r.slot_start) < CAST($tz_change_3 AS BIGINT)
                  THEN CAST($tz_offset_2 AS BIGINT)
                  WHEN EPOCH_US(r.slot_start) < CAST($tz_change_4 AS BIGINT)
                  THEN CAST($tz_offset_3 AS BIGINT)
                  ELSE CAST($tz_offset_4 AS BIGINT)
                END + 2208988800000000
              ) // 86400000000 AS INT)
            ) AS DATE),
            CAST($start_date AS DATE)
          )
        END AS bucket,
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
        r.tenant_id = CAST($tenant_id AS TEXT)
        AND r.outlet_id = CAST($outlet_id AS TEXT)
        AND r.slot_start >= CAST($range_start AS TIMESTAMPTZ)
        AND r.slot_start < CAST($range_end AS TIMESTAMPTZ)
      UNION ALL
      SELECT
        CASE
          WHEN CAST(DATE_TRUNC('WEEK', d) AS DATE) IS NULL
          OR CAST($start_date AS DATE) IS NULL
          THEN NULL
          ELSE GREATEST(CAST(DATE_TRUNC('WEEK', d) AS DATE), CAST($start_date AS DATE))
        END,
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
      FROM UNNEST(CAST(GENERATE_SERIES(
        CAST($start_date AS DATE),
        CAST($end_date AS DATE),
        INTERVAL '1' DAY
      ) AS DATE[])) AS _t0(d)
    ) AS slot_rows
    GROUP BY
      bucket
  ) AS sums
) AS money
ORDER BY
  date NULLS FIRST
