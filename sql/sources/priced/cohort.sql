{#-
  Row source of the priced cohort cost (§7.2 under COST_MODEL=priced), seed and facts layouts:
  every message, whatever its timestamp (within the look-around bound if any), of the
  conversations started in the range, read from the seed's tables as sources/priced/messages.sql.
  Columns: bucket_at (the conversation's start), ts, sender_type, metadata, customer_phone.
-#}
{% import 'macros/request.sql' as r with context -%}
SELECT c.started_at AS bucket_at, msg.timestamp AS ts, msg.sender_type, msg.metadata, c.customer_phone
      FROM conversations AS c
      JOIN messages AS msg ON msg.conversation_id = c.id
      WHERE {{ r.scope('c') }} AND {{ r.in_range('c.started_at') }}{{ r.near('msg.timestamp') }}
