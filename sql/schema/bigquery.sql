-- The seed's tables in BigQuery. `crm-metrics init-db` runs this with the dataset of
-- DATABASE_URL as the default dataset; in the console, run it with one chosen
-- (`bq query --use_legacy_sql=false --dataset_id=PROJECT:DATASET < sql/schema/bigquery.sql`).
--
-- Partitioned by day of the time every query filters on, and clustered by what every query
-- selects on first, so a dashboard reads the range's partitions and, within them, the blocks of
-- one tenant (and outlet) only. Days are UTC days; a request's local range touches at most
-- one partition more at each end. No primary keys: `crm-metrics load` replaces rows by id
-- itself (a MERGE from a staging table).
CREATE TABLE IF NOT EXISTS tenants (
  id STRING NOT NULL,
  name STRING NOT NULL,
  timezone STRING
);

CREATE TABLE IF NOT EXISTS conversations (
  id STRING NOT NULL,
  tenant_id STRING NOT NULL,
  outlet_id STRING,
  customer_phone STRING NOT NULL,
  status STRING NOT NULL,
  started_at TIMESTAMP NOT NULL,
  ended_at TIMESTAMP,
  last_message_at TIMESTAMP
)
PARTITION BY DATE(started_at)
CLUSTER BY tenant_id, outlet_id;

CREATE TABLE IF NOT EXISTS messages (
  id STRING NOT NULL,
  conversation_id STRING NOT NULL,
  sender_type STRING NOT NULL,
  sender_id STRING,
  content STRING NOT NULL,
  `timestamp` TIMESTAMP NOT NULL,
  metadata JSON
)
PARTITION BY DATE(`timestamp`)
CLUSTER BY conversation_id;
