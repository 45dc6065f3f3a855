-- name: rate_card
-- table: The rate card the priced rollup's columns hold (docs/costs.md, "The priced rollup"):
--   its name, a digest of the price tables and the flat price of tokens without input or
--   output counts (`Metrics.rate_card`); no row: none is installed.
-- grain: at most one row.
-- columns:
--   fingerprint  STRING  the card's name
SELECT k.fingerprint
FROM crm_metrics_rate_card AS k
LIMIT 1
