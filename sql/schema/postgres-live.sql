-- The live rollup on PostgreSQL (docs/postgres.md, "The live rollup"), installed by
-- `crm-metrics init-db --rollup` in one short transaction before the derived tables are filled:
-- every INSERT, UPDATE, DELETE, COPY or TRUNCATE of `conversations` or `messages`, by any
-- client, appends the ids of the conversations it touched to `crm_metrics_changes`, in the
-- writer's own transaction (so a change is queued exactly when it commits, and never if it
-- rolls back). A running `crm-metrics serve` takes the queued ids and recomputes those
-- conversations' facts and rollup slots (crm_metrics/changes.py). Removal:
-- sql/schema/postgres-live-drop.sql (`crm-metrics drop-rollup`).
--
-- The writer's cost is one statement-level trigger call per statement (not per row), each one
-- INSERT of the statement's conversation ids, read from its transition table, into a table
-- without indexes: about 4 µs of the server's CPU a statement (docs/postgres.md, "The live
-- rollup"). Nothing is deduplicated here: a DISTINCT (or UNION) costs more than the queue
-- rows it saves for the one-row statements most writers send, and the applier's claim
-- deduplicates anyway. It takes no lock the analytics side ever holds: the applier deletes
-- queued rows it has read (row locks on rows no writer touches again) and locks only the
-- derived tables, which writers never touch.

-- No index and no key: writers only append; the applier reads the table whole (it holds what
-- the applier has not yet applied, normally a few hundred rows) and deletes by ctid. No
-- vacuum_truncate: VACUUM would otherwise take an ACCESS EXCLUSIVE lock to cut the empty pages
-- the applier's deletes leave at the end, and writers' inserts would wait for it.
CREATE TABLE IF NOT EXISTS crm_metrics_changes (
  conversation_id text NOT NULL,
  queued_at timestamptz NOT NULL DEFAULT clock_timestamp()
) WITH (vacuum_truncate = false);

-- The functions run with their owner's privileges (SECURITY DEFINER), so that the CRM's own
-- roles need no privilege on the queue. Everything they name is qualified (the queue and the
-- derived table by this schema, functions and operators by pg_catalog), so that no writer's
-- search_path can make them run something else with those privileges ("Writing SECURITY
-- DEFINER Functions Safely", PostgreSQL docs): qualified rather than pinned with SET
-- search_path, which costs every call a configuration change (a quarter of a 1,000-statement
-- transaction's time in bench/live.py). A transaction that sets crm_metrics.refreshed = on
-- (`crm-metrics load`, which recomputes what it writes itself, in the same transaction)
-- queues nothing.
--
-- One function per kind of statement and table, each a single INSERT with no branch on
-- TG_OP: crm_metrics_<table>_changed for INSERT and DELETE (their triggers name the
-- inserted, or the deleted, rows crm_metrics_rows), crm_metrics_<table>_updated for UPDATE
-- (both sides: a message may move to another conversation, a conversation may change its id
-- or tenant), crm_metrics_truncated for TRUNCATE of either table.
DO $live$
DECLARE
  -- (table, its column holding the conversation id)
  source text[];
BEGIN
  FOREACH source SLICE 1 IN ARRAY ARRAY[['conversations', 'id'], ['messages', 'conversation_id']] LOOP
    EXECUTE format($function$
      CREATE OR REPLACE FUNCTION %1$I.%2$I() RETURNS trigger
      LANGUAGE plpgsql SECURITY DEFINER AS $body$
      BEGIN
        IF pg_catalog.current_setting('crm_metrics.refreshed', true) OPERATOR(pg_catalog.=) 'on' THEN
          RETURN NULL;
        END IF;
        INSERT INTO %1$I.crm_metrics_changes (conversation_id) SELECT r.%3$I FROM crm_metrics_rows AS r;
        RETURN NULL;
      END
      $body$
    $function$, current_schema(), 'crm_metrics_' || source[1] || '_changed', source[2]);
    EXECUTE format($function$
      CREATE OR REPLACE FUNCTION %1$I.%2$I() RETURNS trigger
      LANGUAGE plpgsql SECURITY DEFINER AS $body$
      BEGIN
        IF pg_catalog.current_setting('crm_metrics.refreshed', true) OPERATOR(pg_catalog.=) 'on' THEN
          RETURN NULL;
        END IF;
        INSERT INTO %1$I.crm_metrics_changes (conversation_id)
        SELECT n.%3$I FROM crm_metrics_new AS n UNION ALL SELECT o.%3$I FROM crm_metrics_old AS o;
        RETURN NULL;
      END
      $body$
    $function$, current_schema(), 'crm_metrics_' || source[1] || '_updated', source[2]);
  END LOOP;
  -- TRUNCATE has no transition table: every conversation the derived tables know (none while
  -- `init-db --rollup` is still filling them).
  EXECUTE format($function$
    CREATE OR REPLACE FUNCTION %1$I.crm_metrics_truncated() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER AS $body$
    BEGIN
      IF pg_catalog.current_setting('crm_metrics.refreshed', true) OPERATOR(pg_catalog.=) 'on' THEN
        RETURN NULL;
      ELSIF pg_catalog.to_regclass(%2$L) IS NOT NULL THEN
        INSERT INTO %1$I.crm_metrics_changes (conversation_id) SELECT f.conversation_id FROM %1$I.conversation_facts AS f;
      END IF;
      RETURN NULL;
    END
    $body$
  $function$, current_schema(), format('%I.conversation_facts', current_schema()));
END
$live$;

-- One trigger per event: PostgreSQL refuses transition tables on a trigger of several events.
CREATE OR REPLACE TRIGGER crm_metrics_insert AFTER INSERT ON conversations
  REFERENCING NEW TABLE AS crm_metrics_rows FOR EACH STATEMENT EXECUTE FUNCTION crm_metrics_conversations_changed();
CREATE OR REPLACE TRIGGER crm_metrics_update AFTER UPDATE ON conversations
  REFERENCING OLD TABLE AS crm_metrics_old NEW TABLE AS crm_metrics_new FOR EACH STATEMENT EXECUTE FUNCTION crm_metrics_conversations_updated();
CREATE OR REPLACE TRIGGER crm_metrics_delete AFTER DELETE ON conversations
  REFERENCING OLD TABLE AS crm_metrics_rows FOR EACH STATEMENT EXECUTE FUNCTION crm_metrics_conversations_changed();
CREATE OR REPLACE TRIGGER crm_metrics_truncate AFTER TRUNCATE ON conversations
  FOR EACH STATEMENT EXECUTE FUNCTION crm_metrics_truncated();
CREATE OR REPLACE TRIGGER crm_metrics_insert AFTER INSERT ON messages
  REFERENCING NEW TABLE AS crm_metrics_rows FOR EACH STATEMENT EXECUTE FUNCTION crm_metrics_messages_changed();
CREATE OR REPLACE TRIGGER crm_metrics_update AFTER UPDATE ON messages
  REFERENCING OLD TABLE AS crm_metrics_old NEW TABLE AS crm_metrics_new FOR EACH STATEMENT EXECUTE FUNCTION crm_metrics_messages_updated();
CREATE OR REPLACE TRIGGER crm_metrics_delete AFTER DELETE ON messages
  REFERENCING OLD TABLE AS crm_metrics_rows FOR EACH STATEMENT EXECUTE FUNCTION crm_metrics_messages_changed();
CREATE OR REPLACE TRIGGER crm_metrics_truncate AFTER TRUNCATE ON messages
  FOR EACH STATEMENT EXECUTE FUNCTION crm_metrics_truncated();
