-- The seed's tables for PostgreSQL. Timestamps are instants (timestamptz); metadata is jsonb,
-- which the queries read with `#>>` (a json column works too). Ids are text; the queries
-- order message ids with COLLATE "C" themselves, so any database collation gives the
-- contract's byte order. No primary keys: `crm-metrics load` updates rows in place by id
-- itself, and an existing seed database may hold keys and foreign keys of its own.
CREATE TABLE IF NOT EXISTS tenants (
  id text NOT NULL,
  name text NOT NULL,
  timezone text
);

CREATE TABLE IF NOT EXISTS conversations (
  id text NOT NULL,
  tenant_id text NOT NULL,
  outlet_id text,
  customer_phone text NOT NULL,
  status text NOT NULL,
  started_at timestamptz NOT NULL,
  ended_at timestamptz,
  last_message_at timestamptz
);

CREATE TABLE IF NOT EXISTS messages (
  id text NOT NULL,
  conversation_id text NOT NULL,
  sender_type text NOT NULL,
  sender_id text,
  content text NOT NULL,
  "timestamp" timestamptz NOT NULL,
  metadata jsonb
);

-- Every query scopes by tenant (lowercased: other writers may store ids in upper case) and
-- range on conversations, joins messages by conversation and orders a conversation's messages
-- by time; `load` updates by id. Reads of these tables (no --rollup) find the conversations a
-- window involves from the index entries alone (docs/postgres.md, seed-layout reads): the
-- tenant's conversations with their id and outlet (covering: an index-only scan, tenant_id
-- included because PostgreSQL reads lower(tenant_id) from it), the range's messages with
-- their conversation.
CREATE INDEX IF NOT EXISTS tenants_lower_id ON tenants (lower(id));
CREATE INDEX IF NOT EXISTS conversations_id ON conversations (id);
CREATE INDEX IF NOT EXISTS conversations_lower_tenant_started_covering ON conversations (lower(tenant_id), started_at) INCLUDE (tenant_id, id, outlet_id);
CREATE INDEX IF NOT EXISTS messages_id ON messages (id);
CREATE INDEX IF NOT EXISTS messages_conversation_timestamp ON messages (conversation_id, "timestamp");
CREATE INDEX IF NOT EXISTS messages_timestamp_conversation ON messages ("timestamp", conversation_id);
