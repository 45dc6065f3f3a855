-- The live rollup on PostgreSQL (docs/postgres.md, "The live rollup"), installed by
-- `crm-metrics init-db --rollup` in one short transaction before the derived tables are filled:
-- every INSERT, UPDATE, DELETE, COPY or TRUNCATE of `conversations` or `messages`, by any
-- client, appends the ids of the conversations it touched to `crm_metrics_changes`, in the
-- writer's own transaction (so a change is queued exactly when it commits, and never if it
-- rolls back). A running `crm-metrics serve` takes the queued ids and recomputes those
-- conversations' facts and rollup slots (crm_metrics/changes.py). Removal:
-- sql/schema/postgres-live-drop.sql (`crm-metrics drop-rollup`).
--
-- The writer's cost is one statement-level trigger per statement (not per row): one INSERT of
-- the statement's distinct conversation ids into a table without indexes, reading the
-- statement's transition table. It takes no lock the analytics side ever holds: the applier
-- deletes queued rows it has read (row locks on rows no writer touches again) and locks only
-- the derived tables, which writers never touch.

-- No index and no key: writers only append; the applier reads the table whole (it holds what
-- the applier has not yet applied, normally a few hundred rows) and deletes by ctid.
CREATE TABLE IF NOT EXISTS crm_metrics_changes (
  conversation_id text NOT NULL,
  queued_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- The functions run with their owner's privileges (SECURITY DEFINER), so that the CRM's own
-- roles need no privilege on the queue; their search_path is pinned to this schema (the
-- rule for SECURITY DEFINER functions, "Writing SECURITY DEFINER Functions Safely" in the
-- PostgreSQL docs). A transaction that sets crm_metrics.refreshed = on (`crm-metrics load`,
-- which recomputes what it writes itself, in the same transaction) queues nothing.
DO $live$
BEGIN
  EXECUTE format($function$
    CREATE OR REPLACE FUNCTION crm_metrics_conversations_changed() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = %I, pg_temp AS $body$
    BEGIN
      IF current_setting('crm_metrics.refreshed', true) = 'on' THEN
        RETURN NULL;
      ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO crm_metrics_changes (conversation_id) SELECT DISTINCT n.id FROM crm_metrics_new AS n;
      ELSIF TG_OP = 'UPDATE' THEN
        -- Both sides: an id or a tenant may change.
        INSERT INTO crm_metrics_changes (conversation_id)
        SELECT n.id FROM crm_metrics_new AS n UNION SELECT o.id FROM crm_metrics_old AS o;
      ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO crm_metrics_changes (conversation_id) SELECT DISTINCT o.id FROM crm_metrics_old AS o;
      ELSIF to_regclass('conversation_facts') IS NOT NULL THEN
        -- TRUNCATE has no transition table: every conversation the derived tables know
        -- (none while `init-db --rollup` is still filling them).
        INSERT INTO crm_metrics_changes (conversation_id) SELECT f.conversation_id FROM conversation_facts AS f;
      END IF;
      RETURN NULL;
    END
    $body$
  $function$, current_schema());
  EXECUTE format($function$
    CREATE OR REPLACE FUNCTION crm_metrics_messages_changed() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = %I, pg_temp AS $body$
    BEGIN
      IF current_setting('crm_metrics.refreshed', true) = 'on' THEN
        RETURN NULL;
      ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO crm_metrics_changes (conversation_id) SELECT DISTINCT n.conversation_id FROM crm_metrics_new AS n;
      ELSIF TG_OP = 'UPDATE' THEN
        -- Both sides: a message may move to another conversation.
        INSERT INTO crm_metrics_changes (conversation_id)
        SELECT n.conversation_id FROM crm_metrics_new AS n UNION SELECT o.conversation_id FROM crm_metrics_old AS o;
      ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO crm_metrics_changes (conversation_id) SELECT DISTINCT o.conversation_id FROM crm_metrics_old AS o;
      ELSIF to_regclass('conversation_facts') IS NOT NULL THEN
        INSERT INTO crm_metrics_changes (conversation_id) SELECT f.conversation_id FROM conversation_facts AS f;
      END IF;
      RETURN NULL;
    END
    $body$
  $function$, current_schema());
END
$live$;

-- One trigger per event: PostgreSQL refuses transition tables on a trigger of several events.
CREATE OR REPLACE TRIGGER crm_metrics_insert AFTER INSERT ON conversations
  REFERENCING NEW TABLE AS crm_metrics_new FOR EACH STATEMENT EXECUTE FUNCTION crm_metrics_conversations_changed();
CREATE OR REPLACE TRIGGER crm_metrics_update AFTER UPDATE ON conversations
  REFERENCING OLD TABLE AS crm_metrics_old NEW TABLE AS crm_metrics_new FOR EACH STATEMENT EXECUTE FUNCTION crm_metrics_conversations_changed();
CREATE OR REPLACE TRIGGER crm_metrics_delete AFTER DELETE ON conversations
  REFERENCING OLD TABLE AS crm_metrics_old FOR EACH STATEMENT EXECUTE FUNCTION crm_metrics_conversations_changed();
CREATE OR REPLACE TRIGGER crm_metrics_truncate AFTER TRUNCATE ON conversations
  FOR EACH STATEMENT EXECUTE FUNCTION crm_metrics_conversations_changed();
CREATE OR REPLACE TRIGGER crm_metrics_insert AFTER INSERT ON messages
  REFERENCING NEW TABLE AS crm_metrics_new FOR EACH STATEMENT EXECUTE FUNCTION crm_metrics_messages_changed();
CREATE OR REPLACE TRIGGER crm_metrics_update AFTER UPDATE ON messages
  REFERENCING OLD TABLE AS crm_metrics_old NEW TABLE AS crm_metrics_new FOR EACH STATEMENT EXECUTE FUNCTION crm_metrics_messages_changed();
CREATE OR REPLACE TRIGGER crm_metrics_delete AFTER DELETE ON messages
  REFERENCING OLD TABLE AS crm_metrics_old FOR EACH STATEMENT EXECUTE FUNCTION crm_metrics_messages_changed();
CREATE OR REPLACE TRIGGER crm_metrics_truncate AFTER TRUNCATE ON messages
  FOR EACH STATEMENT EXECUTE FUNCTION crm_metrics_messages_changed();
