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

-- The slot's priced costs (docs/costs.md, "The priced rollup"): the §8 sums of its cost_slots
-- groups priced with the rate card stored below (crm_metrics_rate_card), kept by every write
-- that changes cost_slots (sql/derived/slot_prices.sql). A process whose price tables are that
-- card reads them as it reads the counts; any other prices cost_slots at query time.
ALTER TABLE metric_slots ADD COLUMN IF NOT EXISTS input_tokens HUGEINT DEFAULT 0;
ALTER TABLE metric_slots ADD COLUMN IF NOT EXISTS output_tokens HUGEINT DEFAULT 0;
ALTER TABLE metric_slots ADD COLUMN IF NOT EXISTS llm_cost DOUBLE DEFAULT 0;
ALTER TABLE metric_slots ADD COLUMN IF NOT EXISTS whatsapp_charged_messages BIGINT DEFAULT 0;
ALTER TABLE metric_slots ADD COLUMN IF NOT EXISTS whatsapp_free_messages BIGINT DEFAULT 0;
ALTER TABLE metric_slots ADD COLUMN IF NOT EXISTS whatsapp_unpriced_messages BIGINT DEFAULT 0;
ALTER TABLE metric_slots ADD COLUMN IF NOT EXISTS whatsapp_marketing_cost DOUBLE DEFAULT 0;
ALTER TABLE metric_slots ADD COLUMN IF NOT EXISTS whatsapp_utility_cost DOUBLE DEFAULT 0;
ALTER TABLE metric_slots ADD COLUMN IF NOT EXISTS whatsapp_authentication_cost DOUBLE DEFAULT 0;
ALTER TABLE metric_slots ADD COLUMN IF NOT EXISTS total_whatsapp_cost DOUBLE DEFAULT 0;

-- The rate card the priced columns above hold (crm_metrics/prices.py, as bound to queries):
-- each WhatsApp row once per range of numbers of its market, each row with its end of
-- validity; `crm_metrics_rate_card` names it (a digest of both tables and the flat price of
-- tokens without input or output counts). Written only with the repricing of every slot, in
-- one transaction (`Store.install_prices`); empty: no card, the columns are not read.
CREATE TABLE IF NOT EXISTS crm_metrics_whatsapp_prices (
  low VARCHAR NOT NULL,
  high VARCHAR NOT NULL,
  market VARCHAR NOT NULL,
  category VARCHAR NOT NULL,
  price DOUBLE NOT NULL,
  valid_from DATE NOT NULL,
  valid_to DATE NOT NULL
);
CREATE TABLE IF NOT EXISTS crm_metrics_llm_prices (
  model VARCHAR NOT NULL,
  input_price DOUBLE NOT NULL,
  output_price DOUBLE NOT NULL,
  valid_from DATE NOT NULL,
  valid_to DATE NOT NULL
);
CREATE TABLE IF NOT EXISTS crm_metrics_rate_card (
  fingerprint VARCHAR NOT NULL,
  llm_price_per_million_tokens DOUBLE NOT NULL
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
