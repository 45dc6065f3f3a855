-- The seed's tables for the embedded DuckDB store. Timestamps are instants (TIMESTAMPTZ);
-- metadata is JSON. No primary keys: `crm-metrics load` updates rows in place by id itself
-- (a key would cost every load an index check and add nothing the loader does not ensure).
CREATE TABLE IF NOT EXISTS tenants (
  id VARCHAR NOT NULL,
  name VARCHAR NOT NULL,
  timezone VARCHAR
);

CREATE TABLE IF NOT EXISTS conversations (
  id VARCHAR NOT NULL,
  tenant_id VARCHAR NOT NULL,
  outlet_id VARCHAR,
  customer_phone VARCHAR NOT NULL,
  status VARCHAR NOT NULL,
  started_at TIMESTAMPTZ NOT NULL,
  ended_at TIMESTAMPTZ,
  last_message_at TIMESTAMPTZ
);

CREATE TABLE IF NOT EXISTS messages (
  id VARCHAR NOT NULL,
  conversation_id VARCHAR NOT NULL,
  sender_type VARCHAR NOT NULL,
  sender_id VARCHAR,
  content VARCHAR NOT NULL,
  "timestamp" TIMESTAMPTZ NOT NULL,
  metadata JSON
);
