-- name: conversations_by_calling_code
-- table: Conversations started in the range, by the country calling code of the customer's
--   number (E.164: the digits after a leading +; 1 and 7 are one-digit codes, the ITU's
--   two-digit codes are listed below, every other code has three digits).
-- grain: one row per calling code with at least one conversation, ordered by code; numbers
--   that do not start with + and a digit 1-9 are counted under 'unknown'.
-- granularities: range
-- params:
--   tenant_id     STRING     the tenant whose conversations are counted
--   outlet_id     STRING     only this outlet's conversations (when the request names one)
--   range_start   TIMESTAMP  start_date 00:00 in tz, as an instant
--   range_end     TIMESTAMP  (end_date + 1 day) 00:00 in tz, as an instant
-- columns:
--   calling_code     STRING   the country calling code, without +, or 'unknown'
--   conversations    INT64    conversations started in the range by customers of that code
{% import 'macros/custom.sql' as crm with context -%}
{% set two_digit_codes = ['20', '27', '30', '31', '32', '33', '34', '36', '39', '40', '41', '43', '44', '45', '46', '47', '48', '49', '51', '52', '53', '54', '55', '56', '57', '58', '60', '61', '62', '63', '64', '65', '66', '81', '82', '84', '86', '90', '91', '92', '93', '94', '95', '98'] -%}
SELECT calling_code, COUNT(*) AS conversations
FROM (
  SELECT
    CASE
      WHEN NOT REGEXP_CONTAINS(c.customer_phone, r'^\+[1-9][0-9]{2}') THEN 'unknown'
      WHEN SUBSTR(c.customer_phone, 2, 1) IN ('1', '7') THEN SUBSTR(c.customer_phone, 2, 1)
      WHEN SUBSTR(c.customer_phone, 2, 2) IN ('{{ two_digit_codes | join("', '") }}') THEN SUBSTR(c.customer_phone, 2, 2)
      ELSE SUBSTR(c.customer_phone, 2, 3)
    END AS calling_code
  FROM ({{ crm.conversations() }}) AS c
) AS coded
GROUP BY calling_code
ORDER BY CAST(calling_code AS BYTES)
