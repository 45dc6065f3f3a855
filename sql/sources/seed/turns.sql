{#-
  Row source, seed layout: the customer turns that start in the range, with their first reply
  (derived over every message of the conversations with a customer message in the range).
  Columns: turn_at, reply_at.
-#}
{% import 'macros/request.sql' as r with context -%}
{% import 'macros/rows.sql' as rows with context -%}
{% set customer_in_range -%}
SELECT r.conversation_id FROM messages AS r JOIN conversations AS c ON c.id = r.conversation_id
      WHERE r.sender_type = 'customer' AND {{ r.scope('c') }} AND {{ r.in_range('r.timestamp') }}
{%- endset -%}
SELECT t.turn_at, t.reply_at
    FROM (
      {{ rows.turn_windows(customer_in_range) }}
    ) AS t
    WHERE t.turn_start AND {{ r.in_range('t.turn_at') }}
