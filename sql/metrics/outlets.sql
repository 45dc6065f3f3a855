-- name: outlets
-- table: Outlet breakdown (docs/metrics.md §7.4): the summary's figures per outlet of the
--   tenant, computed from raw rows; the rows' counts and costs add up to the tenant's summary.
-- grain: one row per outlet_id value carried by the tenant's conversations that started in the
--   range or own a message in it, ordered by outlet_id byte by byte; the row of conversations
--   without an outlet (outlet_id null) last, only when there are such conversations.
-- granularities: range
-- params:
--   tenant_id                     STRING     the tenant whose rows are read
--   range_start                   TIMESTAMP  start_date 00:00 in tz, as an instant
--   range_end                     TIMESTAMP  (end_date + 1 day) 00:00 in tz, as an instant
--   llm_price_per_million_tokens  FLOAT64    LLM price in dollars per million tokens (default 0.15)
--   whatsapp_price_per_message    FLOAT64    WhatsApp price in dollars per message (default 0.01)
-- columns:
--   outlet_id                      STRING   the outlet (lowercase); null: conversations without an outlet
--   total_conversations            INT64    conversations started in the range
--   total_messages                 INT64    messages sent in the range, of any sender type
--   average_response_time_seconds  FLOAT64  mean response time over the answered customer turns that start in the range
--   resolution_rate                FLOAT64  resolved / conversations started in the range
--   handoff_rate                   FLOAT64  share of the conversations started in the range with a handoff request
--   total_cost                     FLOAT64  LLM cost of the range's llm messages + WhatsApp cost of all its messages
{% import 'macros/request.sql' as r with context -%}
{% import 'macros/rows.sql' as rows with context -%}
{% import 'macros/series.sql' as m with context -%}
{#- One stream of counts per row (conversations, messages, turns), each with its outlet, summed
    by outlet: GROUP BY keeps the conversations without an outlet together as one NULL group,
    where a join on outlet_id would lose them. The rollup's layout reads the derived tables. -#}
WITH
  activity AS (
{%- if layout == 'seed' %}
{%- set started_in_range -%}
SELECT s.id FROM conversations AS s WHERE {{ r.scope('s') }} AND {{ r.in_range('s.started_at') }}
{%- endset -%}
{%- set customer_in_range -%}
SELECT x.conversation_id FROM messages AS x JOIN conversations AS c ON c.id = x.conversation_id
      WHERE x.sender_type = 'customer' AND {{ r.scope('c') }} AND {{ r.in_range('x.timestamp') }}
{%- endset %}
    SELECT
      LOWER(c.outlet_id) AS outlet_id,
      1 AS conversations,
      IF(c.status = 'resolved', 1, 0) AS resolved_conversations,
      IF(h.conversation_id IS NULL, 0, 1) AS handoffs,
      0 AS messages,
      0 AS llm_tokens,
      0 AS replied_turns,
      0 AS response_us
    FROM conversations AS c
    LEFT JOIN (
      {{ rows.first_handoffs(started_in_range) }}
    ) AS h ON h.conversation_id = c.id
    WHERE {{ r.scope('c') }} AND {{ r.in_range('c.started_at') }}
    UNION ALL
    SELECT LOWER(c.outlet_id), 0, 0, 0, 1, IF(msg.sender_type = 'llm', {{ rows.tokens_used('msg.metadata') }}, 0), 0, 0
    FROM messages AS msg
    JOIN conversations AS c ON c.id = msg.conversation_id
    WHERE {{ r.scope('c') }} AND {{ r.in_range('msg.timestamp') }}
    UNION ALL
    SELECT LOWER(c.outlet_id), 0, 0, 0, 0, 0, 1, TIMESTAMP_DIFF(t.reply_at, t.turn_at, MICROSECOND)
    FROM (
      {{ rows.turn_windows(customer_in_range) }}
    ) AS t
    JOIN conversations AS c ON c.id = t.conversation_id
    WHERE t.turn_start AND t.reply_at IS NOT NULL AND {{ r.in_range('t.turn_at') }}
{%- else %}
    SELECT
      f.outlet_id,
      1 AS conversations,
      IF(f.status = 'resolved', 1, 0) AS resolved_conversations,
      IF(f.handoff_at IS NULL, 0, 1) AS handoffs,
      0 AS messages,
      0 AS llm_tokens,
      0 AS replied_turns,
      0 AS response_us
    FROM conversation_facts AS f
    WHERE {{ r.scope('f', derived=True) }} AND {{ r.in_range('f.started_at') }}
    UNION ALL
    {#- A turn is a message row: its start's turn_start and reply_at. #}
    SELECT
      f.outlet_id, 0, 0, 0, 1,
      IF(f.sender_type = 'llm', f.tokens_used, 0),
      IF(f.turn_start AND f.reply_at IS NOT NULL, 1, 0),
      IF(f.turn_start AND f.reply_at IS NOT NULL, TIMESTAMP_DIFF(f.reply_at, f.ts, MICROSECOND), 0)
    FROM message_facts AS f
    WHERE {{ r.scope('f', derived=True) }} AND {{ r.in_range('f.ts') }}
{%- endif %}
  ),
  sums AS (
    SELECT
      outlet_id,
      SUM(conversations) AS conversations,
      SUM(resolved_conversations) AS resolved_conversations,
      SUM(handoffs) AS handoffs,
      SUM(messages) AS messages,
      SUM(llm_tokens) AS llm_tokens,
      SUM(replied_turns) AS replied_turns,
      SUM(response_us) AS response_us
    FROM activity
    GROUP BY outlet_id
  )
SELECT
  outlet_id,
  conversations AS total_conversations,
  messages AS total_messages,
  SAFE_DIVIDE(response_us, replied_turns) / {{ MICROS_PER_SECOND }} AS average_response_time_seconds,
  SAFE_DIVIDE(resolved_conversations, conversations) AS resolution_rate,
  SAFE_DIVIDE(handoffs, conversations) AS handoff_rate,
  {{ m.llm_cost('llm_tokens') }} + {{ m.whatsapp_cost('messages') }} AS total_cost
FROM sums
ORDER BY CAST(outlet_id AS BYTES) NULLS LAST
