{#-
  Row source, seed layout: the conversations started in the range, read from the seed's
  tables, with their first handoff request derived from their messages (conversation_messages
  of sources/seed/window.sql: wherever it falls, within the look-around bound if any).
  Columns: started_at, status, duration_us (ended_at - started_at in microseconds, NULL without
  ended_at), handoff_at and handoff_trigger (of the first handoff request, NULL without one).
-#}
{% import 'macros/request.sql' as r with context -%}
{% import 'macros/rows.sql' as rows with context -%}
SELECT
      c.started_at,
      c.status,
      TIMESTAMP_DIFF(c.ended_at, c.started_at, MICROSECOND) AS duration_us,
      h.handoff_at,
      h.handoff_trigger
    FROM conversations AS c
    LEFT JOIN (
      {{ rows.first_handoffs(none, messages='conversation_messages') }}
    ) AS h ON h.conversation_id = c.id
    WHERE {{ r.scope('c') }} AND {{ r.in_range('c.started_at') }}
