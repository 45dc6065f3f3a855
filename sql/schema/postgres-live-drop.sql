-- Removes the live rollup and the derived tables it keeps (`crm-metrics drop-rollup`), in one
-- transaction: queries go back to the seed's tables. By hand: `psql -1 -f` this file; the
-- first LOCK waits for a running apply to end (writers never take these tables), the second
-- fails at once if a writer holds conversations or messages (then run it again) rather than
-- make every writer queue behind it; DROP TRIGGER needs that lock, for milliseconds.
DO $drop$
BEGIN
  IF to_regclass('metric_slots') IS NOT NULL THEN
    LOCK TABLE conversation_facts, message_facts, metric_slots IN ACCESS EXCLUSIVE MODE;
    IF to_regclass('cost_slots') IS NOT NULL THEN
      LOCK TABLE cost_slots IN ACCESS EXCLUSIVE MODE;
    END IF;
  END IF;
END
$drop$;
LOCK TABLE conversations, messages IN ACCESS EXCLUSIVE MODE NOWAIT;
DROP TRIGGER IF EXISTS crm_metrics_insert ON conversations;
DROP TRIGGER IF EXISTS crm_metrics_update ON conversations;
DROP TRIGGER IF EXISTS crm_metrics_delete ON conversations;
DROP TRIGGER IF EXISTS crm_metrics_truncate ON conversations;
DROP TRIGGER IF EXISTS crm_metrics_insert ON messages;
DROP TRIGGER IF EXISTS crm_metrics_update ON messages;
DROP TRIGGER IF EXISTS crm_metrics_delete ON messages;
DROP TRIGGER IF EXISTS crm_metrics_truncate ON messages;
DROP FUNCTION IF EXISTS crm_metrics_conversations_changed();
DROP FUNCTION IF EXISTS crm_metrics_messages_changed();
DROP FUNCTION IF EXISTS crm_metrics_conversations_updated();
DROP FUNCTION IF EXISTS crm_metrics_messages_updated();
DROP FUNCTION IF EXISTS crm_metrics_truncated();
DROP TABLE IF EXISTS crm_metrics_changes, conversation_facts, message_facts, metric_slots, cost_slots,
  crm_metrics_whatsapp_prices, crm_metrics_llm_prices, crm_metrics_rate_card;
