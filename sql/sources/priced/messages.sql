{#-
  Row source of priced costs (COST_MODEL=priced, §8), seed and facts layouts: the messages sent
  in the range by the tenant's (outlet's) conversations, with their metadata and their
  conversation's customer_phone, read from the seed's tables (the derived tables keep neither
  the pricing object nor the number; the rollup keeps their price-independent groups,
  cost_slots). Columns: bucket_at (the message's timestamp), ts, sender_type, metadata,
  customer_phone.
-#}
{% import 'macros/request.sql' as r with context -%}
SELECT msg.timestamp AS bucket_at, msg.timestamp AS ts, msg.sender_type, msg.metadata, c.customer_phone
      FROM messages AS msg
      JOIN conversations AS c ON c.id = msg.conversation_id
      WHERE {{ r.scope('c') }} AND {{ r.in_range('msg.timestamp') }}{{ r.near('c.started_at') }}
