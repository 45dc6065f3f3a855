-- Derived tables and the rollup on PostgreSQL (sql/facts_*.sql), made by `crm-metrics init-db
-- --rollup` and filled from the rows already there in the same transaction. From then on
-- `crm-metrics load` keeps them exact in each load's transaction; rows written to
-- conversations or messages any other way reach them only through `crm-metrics refresh`.
-- Their presence switches queries to the 'rollup' layout (crm_metrics/service.py, plan).
-- Ids stay text as in the seed's tables; rows of tenant ids that are not lowercase UUIDs are
-- left out, as no request can ask for them.
CREATE TABLE IF NOT EXISTS conversation_facts (
  tenant_id text NOT NULL,
  outlet_id text,
  conversation_id text NOT NULL,
  started_at timestamptz NOT NULL,
  status text NOT NULL,
  duration_us bigint,
  handoff_at timestamptz,
  handoff_trigger text,
  messages bigint,
  agent_messages bigint,
  llm_tokens numeric,
  first_response_at timestamptz,
  human_response_at timestamptz,
  first_response_us bigint,
  human_response_us bigint
);
-- Stores made before the columns above (docs/metrics.md §7) get them here, empty until
-- `crm-metrics refresh` recomputes the derived tables.
ALTER TABLE conversation_facts ADD COLUMN IF NOT EXISTS messages bigint;
ALTER TABLE conversation_facts ADD COLUMN IF NOT EXISTS agent_messages bigint;
ALTER TABLE conversation_facts ADD COLUMN IF NOT EXISTS llm_tokens numeric;
ALTER TABLE conversation_facts ADD COLUMN IF NOT EXISTS first_response_at timestamptz;
ALTER TABLE conversation_facts ADD COLUMN IF NOT EXISTS human_response_at timestamptz;
ALTER TABLE conversation_facts ADD COLUMN IF NOT EXISTS first_response_us bigint;
ALTER TABLE conversation_facts ADD COLUMN IF NOT EXISTS human_response_us bigint;

CREATE TABLE IF NOT EXISTS message_facts (
  tenant_id text NOT NULL,
  outlet_id text,
  conversation_id text NOT NULL,
  id text NOT NULL,
  ts timestamptz NOT NULL,
  sender_type text NOT NULL,
  tokens_used bigint NOT NULL,
  turn_start boolean NOT NULL,
  reply_at timestamptz,
  response_us bigint
);
ALTER TABLE message_facts ADD COLUMN IF NOT EXISTS response_us bigint;

-- The contract's counts and sums per tenant (outlet_id NULL) and per outlet, per 15-minute
-- UTC slot (sql/facts_slots.sql). Sums are numeric: microseconds and tokens (up to 18 digits
-- each) summed over a busy slot can pass bigint's 2^63, and durations may be negative. Counts
-- are integers (a slot's fit easily): their SUM is a bigint, which reaches Python as an int,
-- where a SUM of bigints is a numeric that arrives as a Decimal, slow to convert.
CREATE TABLE IF NOT EXISTS metric_slots (
  tenant_id text NOT NULL,
  outlet_id text,
  slot_start timestamptz NOT NULL,
  conversations integer NOT NULL,
  active_conversations integer NOT NULL,
  resolved_conversations integer NOT NULL,
  handed_off_conversations integer NOT NULL,
  ended_conversations integer NOT NULL,
  duration_us numeric NOT NULL,
  handoffs integer NOT NULL,
  keyword_handoffs integer NOT NULL,
  confidence_handoffs integer NOT NULL,
  handoff_us numeric NOT NULL,
  messages integer NOT NULL,
  customer_messages integer NOT NULL,
  llm_messages integer NOT NULL,
  agent_messages integer NOT NULL,
  llm_tokens numeric NOT NULL,
  replied_turns integer NOT NULL,
  response_us numeric NOT NULL
);

-- The slot's priced costs (docs/costs.md, "The priced rollup"): the §8 sums of its cost_slots
-- groups priced with the rate card stored below (crm_metrics_rate_card), kept by every write
-- that changes cost_slots (sql/derived/slot_prices.sql). A process whose price tables are that
-- card reads them as it reads the counts; any other prices cost_slots at query time.
ALTER TABLE metric_slots ADD COLUMN IF NOT EXISTS input_tokens numeric DEFAULT 0;
ALTER TABLE metric_slots ADD COLUMN IF NOT EXISTS output_tokens numeric DEFAULT 0;
ALTER TABLE metric_slots ADD COLUMN IF NOT EXISTS llm_cost double precision DEFAULT 0;
ALTER TABLE metric_slots ADD COLUMN IF NOT EXISTS whatsapp_charged_messages integer DEFAULT 0;
ALTER TABLE metric_slots ADD COLUMN IF NOT EXISTS whatsapp_free_messages integer DEFAULT 0;
ALTER TABLE metric_slots ADD COLUMN IF NOT EXISTS whatsapp_unpriced_messages integer DEFAULT 0;
ALTER TABLE metric_slots ADD COLUMN IF NOT EXISTS whatsapp_marketing_cost double precision DEFAULT 0;
ALTER TABLE metric_slots ADD COLUMN IF NOT EXISTS whatsapp_utility_cost double precision DEFAULT 0;
ALTER TABLE metric_slots ADD COLUMN IF NOT EXISTS whatsapp_authentication_cost double precision DEFAULT 0;
ALTER TABLE metric_slots ADD COLUMN IF NOT EXISTS total_whatsapp_cost double precision DEFAULT 0;

-- The rate card the priced columns above hold (crm_metrics/prices.py, as bound to queries):
-- each WhatsApp row once per range of numbers of its market, each row with its end of
-- validity; `crm_metrics_rate_card` names it (a digest of both tables and the flat price of
-- tokens without input or output counts). Written only with the repricing of every slot, in
-- one transaction (`Store.install_prices`); empty: no card, the columns are not read.
CREATE TABLE IF NOT EXISTS crm_metrics_whatsapp_prices (
  low text NOT NULL,
  high text NOT NULL,
  market text NOT NULL,
  category text NOT NULL,
  price double precision NOT NULL,
  valid_from date NOT NULL,
  valid_to date NOT NULL
);
CREATE TABLE IF NOT EXISTS crm_metrics_llm_prices (
  model text NOT NULL,
  input_price double precision NOT NULL,
  output_price double precision NOT NULL,
  valid_from date NOT NULL,
  valid_to date NOT NULL
);
CREATE TABLE IF NOT EXISTS crm_metrics_rate_card (
  fingerprint text NOT NULL,
  llm_price_per_million_tokens double precision NOT NULL
);

-- The rollup of priced costs (sql/derived/cost_slots.sql, docs/costs.md): per tenant (outlet_id
-- NULL) and outlet, 15-minute UTC slot and group, counts and token sums that no price table
-- enters, so that prices apply at query time. Its presence (with metric_slots) is the rollup
-- layout: a store made before it answers from the derived tables until `init-db --rollup`.
CREATE TABLE IF NOT EXISTS cost_slots (
  tenant_id text NOT NULL,
  outlet_id text,
  slot_start timestamptz NOT NULL,
  kind text NOT NULL,
  phone text,
  charged boolean NOT NULL,
  category text,
  model text,
  messages integer NOT NULL,
  input_tokens numeric NOT NULL,
  output_tokens numeric NOT NULL,
  flat_tokens numeric NOT NULL,
  tokens_used numeric NOT NULL
);

-- Queries read a tenant's (or an outlet's) slots or facts over a time range; a load finds the
-- facts of the conversations it touches, and replaces the rollup's rows of the slots they feed.
-- One CREATE INDEX per line: `init-db --rollup` builds those it adds after filling the tables.
CREATE INDEX IF NOT EXISTS conversation_facts_tenant_started ON conversation_facts (tenant_id, started_at);
CREATE INDEX IF NOT EXISTS conversation_facts_conversation ON conversation_facts (conversation_id);
CREATE INDEX IF NOT EXISTS message_facts_tenant_ts ON message_facts (tenant_id, ts);
-- A conversation's facts in message order: an event batch replaces those from its first
-- changed message on (derived.events); it replaces message_facts_conversation.
DROP INDEX IF EXISTS message_facts_conversation;
CREATE INDEX IF NOT EXISTS message_facts_conversation_ts ON message_facts (conversation_id, ts);
-- The turns with their response times, read without the table (responses, §7.1); it replaces
-- message_facts_turns, which carried reply_at.
DROP INDEX IF EXISTS message_facts_turns;
CREATE INDEX IF NOT EXISTS message_facts_turn_responses ON message_facts (tenant_id, ts) INCLUDE (outlet_id, response_us) WHERE turn_start;
CREATE INDEX IF NOT EXISTS metric_slots_tenant_outlet_slot ON metric_slots (tenant_id, outlet_id, slot_start);
CREATE INDEX IF NOT EXISTS metric_slots_tenant_slot ON metric_slots (tenant_id, slot_start);
CREATE INDEX IF NOT EXISTS cost_slots_tenant_outlet_slot ON cost_slots (tenant_id, outlet_id, slot_start);
CREATE INDEX IF NOT EXISTS cost_slots_tenant_slot ON cost_slots (tenant_id, slot_start);
-- A cost group's row by its key, for an event batch that adds to it (derived.events): a busy
-- slot holds a group per customer number. The expression is the one its lookup compares.
CREATE INDEX IF NOT EXISTS cost_slots_group ON cost_slots (tenant_id, slot_start, kind, (COALESCE(phone, '')));
-- Rollup rows an event batch left at zero (derived.events), found and deleted at once; empty
-- but for that instant.
CREATE INDEX IF NOT EXISTS metric_slots_emptied ON metric_slots (slot_start) WHERE conversations = 0 AND messages = 0;
CREATE INDEX IF NOT EXISTS cost_slots_emptied ON cost_slots (slot_start) WHERE messages = 0;
