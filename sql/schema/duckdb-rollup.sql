-- Derived tables of the embedded store (sql/facts_*.sql), created by `crm-metrics init-db`
-- (unless --no-rollup) and kept up to date by `crm-metrics load` for every conversation a file
-- touches, and ordered by (tenant, time) so that a tenant's range
-- reads few row groups. Their presence switches queries to the 'facts' layout. tenant_id is a
-- UUID here: DuckDB keeps min/max statistics of a VARCHAR's first 8 bytes only, so on text
-- ids sharing a prefix its zone maps cannot skip other tenants' row groups; on UUIDs they can.
CREATE TABLE IF NOT EXISTS conversation_facts (
  tenant_id UUID NOT NULL,
  outlet_id VARCHAR,
  conversation_id VARCHAR NOT NULL,
  started_at TIMESTAMPTZ NOT NULL,
  status VARCHAR NOT NULL,
  duration_us BIGINT,
  handoff_at TIMESTAMPTZ,
  handoff_trigger VARCHAR,
  messages BIGINT,
  agent_messages BIGINT,
  llm_tokens HUGEINT,
  first_response_at TIMESTAMPTZ,
  human_response_at TIMESTAMPTZ,
  first_response_us BIGINT,
  human_response_us BIGINT
);
-- Stores made before the columns above (docs/metrics.md §7) get them here, empty until
-- `crm-metrics refresh` recomputes the derived tables.
ALTER TABLE conversation_facts ADD COLUMN IF NOT EXISTS messages BIGINT;
ALTER TABLE conversation_facts ADD COLUMN IF NOT EXISTS agent_messages BIGINT;
ALTER TABLE conversation_facts ADD COLUMN IF NOT EXISTS llm_tokens HUGEINT;
ALTER TABLE conversation_facts ADD COLUMN IF NOT EXISTS first_response_at TIMESTAMPTZ;
ALTER TABLE conversation_facts ADD COLUMN IF NOT EXISTS human_response_at TIMESTAMPTZ;
ALTER TABLE conversation_facts ADD COLUMN IF NOT EXISTS first_response_us BIGINT;
ALTER TABLE conversation_facts ADD COLUMN IF NOT EXISTS human_response_us BIGINT;

CREATE TABLE IF NOT EXISTS message_facts (
  tenant_id UUID NOT NULL,
  outlet_id VARCHAR,
  conversation_id VARCHAR NOT NULL,
  id VARCHAR NOT NULL,
  ts TIMESTAMPTZ NOT NULL,
  sender_type VARCHAR NOT NULL,
  tokens_used BIGINT NOT NULL,
  turn_start BOOLEAN NOT NULL,
  reply_at TIMESTAMPTZ,
  response_us BIGINT
);
ALTER TABLE message_facts ADD COLUMN IF NOT EXISTS response_us BIGINT;

-- The rollup (sql/facts_slots.sql): the contract's counts and sums per tenant (outlet_id NULL)
-- and per outlet, per 15-minute UTC slot, recomputed by every load for the slots its
-- conversations touch. Requests whose local days are whole slots read it (the 'rollup'
-- layout). Sums are HUGEINT: microsecond and token sums of a busy slot can pass 2^63.
CREATE TABLE IF NOT EXISTS metric_slots (
  tenant_id UUID NOT NULL,
  outlet_id VARCHAR,
  slot_start TIMESTAMPTZ NOT NULL,
  conversations BIGINT NOT NULL,
  active_conversations BIGINT NOT NULL,
  resolved_conversations BIGINT NOT NULL,
  handed_off_conversations BIGINT NOT NULL,
  ended_conversations BIGINT NOT NULL,
  duration_us HUGEINT NOT NULL,
  handoffs BIGINT NOT NULL,
  keyword_handoffs BIGINT NOT NULL,
  confidence_handoffs BIGINT NOT NULL,
  handoff_us HUGEINT NOT NULL,
  messages BIGINT NOT NULL,
  customer_messages BIGINT NOT NULL,
  llm_messages BIGINT NOT NULL,
  agent_messages BIGINT NOT NULL,
  llm_tokens HUGEINT NOT NULL,
  replied_turns BIGINT NOT NULL,
  response_us HUGEINT NOT NULL
);

-- The rollup of priced costs (sql/derived/cost_slots.sql, docs/costs.md): per tenant (outlet_id
-- NULL) and outlet, 15-minute UTC slot and group, counts and token sums that no price table
-- enters, so that prices apply at query time. Its presence (with metric_slots) is the rollup
-- layout: a store made before it answers from the derived tables until `init-db` fills it.
CREATE TABLE IF NOT EXISTS cost_slots (
  tenant_id UUID NOT NULL,
  outlet_id VARCHAR,
  slot_start TIMESTAMPTZ NOT NULL,
  kind VARCHAR NOT NULL,
  phone VARCHAR,
  charged BOOLEAN NOT NULL,
  category VARCHAR,
  model VARCHAR,
  messages BIGINT NOT NULL,
  input_tokens HUGEINT NOT NULL,
  output_tokens HUGEINT NOT NULL,
  flat_tokens HUGEINT NOT NULL,
  tokens_used HUGEINT NOT NULL
);
