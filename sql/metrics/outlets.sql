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
--   lookaround_start              TIMESTAMP  with a look-around bound (LOOKAROUND_DAYS): range_start minus that many days; no row before it is read
--   lookaround_end                TIMESTAMP  range_end plus that many days; no row from it on is read
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
{% set outlet = False -%}
{% import 'macros/series.sql' as m with context -%}
{#- Every outlet of the tenant (no outlet filter, whatever the shape says). One stream of counts
    per row (conversations, messages, turns), each with its outlet, summed by outlet: GROUP BY
    keeps the conversations without an outlet together as one NULL group, where a join on
    outlet_id would lose them. The rollup's layout reads the derived tables. #}
WITH
  {% if layout == 'seed' %}{% include 'sources/seed/window.sql' %}
  {% endif -%}
  activity AS (
    {% include 'sources/' ~ ('seed' if layout == 'seed' else 'facts') ~ '/outlet_activity.sql' %}
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
