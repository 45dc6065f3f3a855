-- Removes the live rollup and the derived tables it keeps (`crm-metrics drop-rollup`), in one
-- transaction: queries go back to the seed's tables. The derived tables are locked first, in
-- the order the applier locks them, then the triggers go (a moment's lock on conversations
-- and messages), then everything else. Run it in a transaction (`psql -1 -f`): a lock that
-- cannot be had within 2 s (a long transaction writing those tables) fails it, changing nothing.
SET LOCAL lock_timeout = '2s';
DO $drop$
BEGIN
  IF to_regclass('metric_slots') IS NOT NULL THEN
    LOCK TABLE conversation_facts, message_facts, metric_slots IN ACCESS EXCLUSIVE MODE;
  END IF;
END
$drop$;
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
DROP TABLE IF EXISTS crm_metrics_changes, conversation_facts, message_facts, metric_slots;
