-- dashboard for postgres, facts layout, outlet filter off, by day
WITH buckets AS (
  SELECT
    d AS bucket
  FROM (
    SELECT
      CAST(value AS DATE)
    FROM GENERATE_SERIES(
      CAST(CAST(%(start_date)s AS DATE) AS TIMESTAMP),
      CAST(CAST(%(end_date)s AS DATE) AS TIMESTAMP),
      INTERVAL '1 DAY'
    ) AS _t(value)
  ) AS _t0(d)
), conversation_aggregates AS (
  SELECT
    CAST((
      CAST(started_at AS TIMESTAMPTZ) AT TIME ZONE 'UTC' + CASE
        WHEN started_at < TO_TIMESTAMP(CAST(CAST(%(tz_change_1)s AS BIGINT) AS BIGINT) / 1000000) + (
          CAST(CAST(%(tz_change_1)s AS BIGINT) AS BIGINT) %% 1000000
        ) * INTERVAL '1 MICROSECOND'
        THEN CAST(%(tz_offset_0)s AS BIGINT) * INTERVAL '1 MICROSECOND'
        WHEN started_at < TO_TIMESTAMP(CAST(CAST(%(tz_change_2)s AS BIGINT) AS BIGINT) / 1000000) + (
          CAST(CAST(%(tz_change_2)s AS BIGINT) AS BIGINT) %% 1000000
        ) * INTERVAL '1 MICROSECOND'
        THEN CAST(%(tz_offset_1)s AS BIGINT) * INTERVAL '1 MICROSECOND'
        WHEN started_at < TO_TIMESTAMP(CAST(CAST(%(tz_change_3)s AS BIGINT) AS BIGINT) / 1000000) + (
          CAST(CAST(%(tz_change_3)s AS BIGINT) AS BIGINT) %% 1000000
        ) * INTERVAL '1 MICROSECOND'
        THEN CAST(%(tz_offset_2)s AS BIGINT) * INTERVAL '1 MICROSECOND'
        WHEN started_at < TO_TIMESTAMP(CAST(CAST(%(tz_change_4)s AS BIGINT) AS BIGINT) / 1000000) + (
          CAST(CAST(%(tz_change_4)s AS BIGINT) AS BIGINT) %% 1000000
        ) * INTERVAL '1 MICROSECOND'
        THEN CAST(%(tz_offset_3)s AS BIGINT) * INTERVAL '1 MICROSECOND'
        ELSE CAST(%(tz_offset_4)s AS BIGINT) * INTERVAL '1 MICROSECOND'
      END
    ) AS DATE) AS bucket,
    COUNT(*) AS total_conversations,
    COUNT(CASE WHEN status = 'active' THEN 1 END) AS active_conversations,
    COUNT(CASE WHEN status = 'resolved' THEN 1 END) AS resolved_conversations,
    COUNT(CASE WHEN status = 'handed_off' THEN 1 END) AS handed_off_conversations,
    CAST(AVG(duration_us) AS DOUBLE PRECISION) / 60000000 AS average_duration_minutes,
    COUNT(handoff_at) AS total_handoffs,
    COUNT(CASE WHEN handoff_trigger = 'keyword' THEN 1 END) AS keyword_triggered,
    COUNT(CASE WHEN handoff_trigger = 'confidence' THEN 1 END) AS confidence_triggered,
    CAST(AVG(CAST(EXTRACT(EPOCH FROM handoff_at - started_at) * 1000000 AS BIGINT)) AS DOUBLE PRECISION) / 60000000 AS average_time_to_handoff_minutes
  FROM (
    SELECT
      f.started_at,
      f.status,
      f.duration_us,
      f.handoff_at,
      f.handoff_trigger
    FROM conversation_facts AS f
    WHERE
      f.tenant_id = CAST(%(tenant_id)s AS TEXT)
      AND f.started_at >= CAST(%(range_start)s AS TIMESTAMPTZ)
      AND f.started_at < CAST(%(range_end)s AS TIMESTAMPTZ)
  ) AS conversation_rows
  GROUP BY
    bucket
), message_aggregates AS (
  SELECT
    CAST((
      CAST(ts AS TIMESTAMPTZ) AT TIME ZONE 'UTC' + CASE
        WHEN ts < TO_TIMESTAMP(CAST(CAST(%(tz_change_1)s AS BIGINT) AS BIGINT) / 1000000) + (
          CAST(CAST(%(tz_change_1)s AS BIGINT) AS BIGINT) %% 1000000
        ) * INTERVAL '1 MICROSECOND'
        THEN CAST(%(tz_offset_0)s AS BIGINT) * INTERVAL '1 MICROSECOND'
        WHEN ts < TO_TIMESTAMP(CAST(CAST(%(tz_change_2)s AS BIGINT) AS BIGINT) / 1000000) + (
          CAST(CAST(%(tz_change_2)s AS BIGINT) AS BIGINT) %% 1000000
        ) * INTERVAL '1 MICROSECOND'
        THEN CAST(%(tz_offset_1)s AS BIGINT) * INTERVAL '1 MICROSECOND'
        WHEN ts < TO_TIMESTAMP(CAST(CAST(%(tz_change_3)s AS BIGINT) AS BIGINT) / 1000000) + (
          CAST(CAST(%(tz_change_3)s AS BIGINT) AS BIGINT) %% 1000000
        ) * INTERVAL '1 MICROSECOND'
        THEN CAST(%(tz_offset_2)s AS BIGINT) * INTERVAL '1 MICROSECOND'
        WHEN ts < TO_TIMESTAMP(CAST(CAST(%(tz_change_4)s AS BIGINT) AS BIGINT) / 1000000) + (
          CAST(CAST(%(tz_change_4)s AS BIGINT) AS BIGINT) %% 1000000
        ) * INTERVAL '1 MICROSECOND'
        THEN CAST(%(tz_offset_3)s AS BIGINT) * INTERVAL '1 MICROSECOND'
        ELSE CAST(%(tz_offset_4)s AS BIGINT) * INTERVAL '1 MICROSECOND'
      END
    ) AS DATE) AS bucket,
    COUNT(*) AS total_messages,
    COUNT(CASE WHEN sender_type = 'customer' THEN 1 END) AS customer_messages,
    COUNT(CASE WHEN sender_type = 'llm' THEN 1 END) AS llm_messages,
    COUNT(CASE WHEN sender_type = 'agent' THEN 1 END) AS agent_messages,
    SUM(CASE WHEN sender_type = 'llm' THEN tokens_used ELSE 0 END) AS total_tokens_used
  FROM (
    SELECT
      f.ts,
      f.sender_type,
      f.tokens_used
    FROM message_facts AS f
    WHERE
      f.tenant_id = CAST(%(tenant_id)s AS TEXT)
      AND f.ts >= CAST(%(range_start)s AS TIMESTAMPTZ)
      AND f.ts < CAST(%(range_end)s AS TIMESTAMPTZ)
  ) AS message_rows
  GROUP BY
    bucket
), turn_aggregates AS (
  SELECT
    CAST((
      CAST(turn_at AS TIMESTAMPTZ) AT TIME ZONE 'UTC' + CASE
        WHEN turn_at < TO_TIMESTAMP(CAST(CAST(%(tz_change_1)s AS BIGINT) AS BIGINT) / 1000000) + (
          CAST(CAST(%(tz_change_1)s AS BIGINT) AS BIGINT) %% 1000000
        ) * INTERVAL '1 MICROSECOND'
        THEN CAST(%(tz_offset_0)s AS BIGINT) * INTERVAL '1 MICROSECOND'
        WHEN turn_at < TO_TIMESTAMP(CAST(CAST(%(tz_change_2)s AS BIGINT) AS BIGINT) / 1000000) + (
          CAST(CAST(%(tz_change_2)s AS BIGINT) AS BIGINT) %% 1000000
        ) * INTERVAL '1 MICROSECOND'
        THEN CAST(%(tz_offset_1)s AS BIGINT) * INTERVAL '1 MICROSECOND'
        WHEN turn_at < TO_TIMESTAMP(CAST(CAST(%(tz_change_3)s AS BIGINT) AS BIGINT) / 1000000) + (
          CAST(CAST(%(tz_change_3)s AS BIGINT) AS BIGINT) %% 1000000
        ) * INTERVAL '1 MICROSECOND'
        THEN CAST(%(tz_offset_2)s AS BIGINT) * INTERVAL '1 MICROSECOND'
        WHEN turn_at < TO_TIMESTAMP(CAST(CAST(%(tz_change_4)s AS BIGINT) AS BIGINT) / 1000000) + (
          CAST(CAST(%(tz_change_4)s AS BIGINT) AS BIGINT) %% 1000000
        ) * INTERVAL '1 MICROSECOND'
        THEN CAST(%(tz_offset_3)s AS BIGINT) * INTERVAL '1 MICROSECOND'
        ELSE CAST(%(tz_offset_4)s AS BIGINT) * INTERVAL '1 MICROSECOND'
      END
    ) AS DATE) AS bucket,
    CAST(AVG(response_us) AS DOUBLE PRECISION) / 1000000 AS average_response_time_seconds,
    COUNT(*) AS answered_turns,
    SUM(response_us) AS response_us
  FROM (
    SELECT
      f.ts AS turn_at,
      f.response_us
    FROM message_facts AS f
    WHERE
      f.tenant_id = CAST(%(tenant_id)s AS TEXT)
      AND f.ts >= CAST(%(range_start)s AS TIMESTAMPTZ)
      AND f.ts < CAST(%(range_end)s AS TIMESTAMPTZ)
      AND f.turn_start
  ) AS turn_rows
  WHERE
    NOT response_us IS NULL
  GROUP BY
    bucket
)
SELECT
  b.bucket AS date,
  COALESCE(c.total_conversations, 0) AS total_conversations,
  COALESCE(c.active_conversations, 0) AS active_conversations,
  COALESCE(c.resolved_conversations, 0) AS resolved_conversations,
  COALESCE(c.handed_off_conversations, 0) AS handed_off_conversations,
  c.average_duration_minutes,
  CASE
    WHEN c.total_conversations <> 0
    THEN CAST(c.resolved_conversations AS DOUBLE PRECISION) / c.total_conversations
    ELSE NULL
  END AS resolution_rate,
  COALESCE(n.total_messages, 0) AS total_messages,
  COALESCE(n.customer_messages, 0) AS customer_messages,
  COALESCE(n.llm_messages, 0) AS llm_messages,
  COALESCE(n.agent_messages, 0) AS agent_messages,
  t.average_response_time_seconds,
  COALESCE(c.total_handoffs, 0) AS total_handoffs,
  COALESCE(c.keyword_triggered, 0) AS keyword_triggered,
  COALESCE(c.confidence_triggered, 0) AS confidence_triggered,
  c.average_time_to_handoff_minutes,
  CASE
    WHEN c.total_conversations <> 0
    THEN CAST(c.total_handoffs AS DOUBLE PRECISION) / c.total_conversations
    ELSE NULL
  END AS handoff_rate,
  COALESCE(t.answered_turns, 0) AS answered_turns,
  COALESCE(t.response_us, 0) AS response_us,
  COALESCE(n.llm_messages, 0) AS total_llm_calls,
  COALESCE(n.total_tokens_used, 0) AS total_tokens_used,
  CAST(COALESCE(n.total_tokens_used, 0) * CAST(%(llm_price_per_million_tokens)s AS DOUBLE PRECISION) AS DOUBLE PRECISION) / 1000000 AS total_llm_cost,
  COALESCE(n.total_messages, 0) * CAST(%(whatsapp_price_per_message)s AS DOUBLE PRECISION) AS total_whatsapp_cost,
  CAST(COALESCE(n.total_tokens_used, 0) * CAST(%(llm_price_per_million_tokens)s AS DOUBLE PRECISION) AS DOUBLE PRECISION) / 1000000 + COALESCE(n.total_messages, 0) * CAST(%(whatsapp_price_per_message)s AS DOUBLE PRECISION) AS total_cost,
  CASE
    WHEN c.total_conversations <> 0
    THEN CAST((
      CAST(COALESCE(n.total_tokens_used, 0) * CAST(%(llm_price_per_million_tokens)s AS DOUBLE PRECISION) AS DOUBLE PRECISION) / 1000000 + COALESCE(n.total_messages, 0) * CAST(%(whatsapp_price_per_message)s AS DOUBLE PRECISION)
    ) AS DOUBLE PRECISION) / c.total_conversations
    ELSE NULL
  END AS cost_per_conversation
FROM buckets AS b
LEFT JOIN conversation_aggregates AS c
  ON c.bucket = b.bucket
LEFT JOIN message_aggregates AS n
  ON n.bucket = b.bucket
LEFT JOIN turn_aggregates AS t
  ON t.bucket = b.bucket
ORDER BY
  date NULLS FIRST
