-- name: suffix_starts
-- table: Where an event batch starts recomputing each touched conversation's message facts: for
--   every conversation in `crm_metrics_moved` (conversation_id, ts: the old and new timestamps of
--   the batch's messages; a null ts marks a conversation written by the batch itself), the
--   timestamp from which its facts may change, and the sender of the message before it. Run
--   before the batch writes, against the stored messages and facts (crm_metrics/derived.py,
--   `events`). Nothing before the earliest changed message changes but the replies of the turns
--   still waiting for one; each of those turns starts after the conversation's last llm or agent
--   message before that point, so the facts from that message on are recomputed (from the
--   conversation's start where there is none, where the batch writes the conversation row, or
--   where the conversation has no facts yet). A later start would also be exact; an earlier one
--   only costs more.
-- grain: one row per conversation in crm_metrics_moved.
-- columns:
--   conversation_id  STRING     the conversation
--   whole            BOOL       every message of it is recomputed (its stored facts row is not read)
--   from_ts          TIMESTAMP  its messages at or after this instant are recomputed; -infinity where whole
--   before_sender    STRING     the sender of its last non-system message before from_ts (message order), or null
{% import 'macros/rows.sql' as rows with context -%}
SELECT
  p.conversation_id,
  p.from_ts IS NULL AS whole,
  -- Never null, so that each lookup of a conversation's messages from it is an index range.
  COALESCE(p.from_ts, CAST('-infinity' AS TIMESTAMP)) AS from_ts,
  -- The last non-system message before from_ts: its timestamp found in the index, then the
  -- largest id of that timestamp (message order).
  (
    SELECT b.sender_type
    FROM messages AS b
    WHERE b.conversation_id = p.conversation_id
      AND b.sender_type <> 'system'
      AND b.timestamp = (
        SELECT MAX(l.timestamp) FROM messages AS l
        WHERE l.conversation_id = p.conversation_id AND l.timestamp < p.from_ts AND l.sender_type <> 'system'
      )
    ORDER BY CAST(b.id AS BYTES) DESC
    LIMIT 1
  ) AS before_sender
FROM (
  SELECT
    q.conversation_id,
    IF(
      q.whole OR NOT EXISTS (SELECT 1 FROM conversation_facts AS cf WHERE cf.conversation_id = q.conversation_id),
      NULL,
      (
        SELECT MAX(l.timestamp) FROM messages AS l
        WHERE l.conversation_id = q.conversation_id AND l.timestamp < q.changed_at AND l.sender_type IN ('llm', 'agent')
      )
    ) AS from_ts
  FROM (
    SELECT mv.conversation_id, MIN(mv.ts) AS changed_at, COUNT(mv.ts) < COUNT(*) AS whole
    FROM crm_metrics_moved AS mv
    GROUP BY mv.conversation_id
  ) AS q
) AS p
