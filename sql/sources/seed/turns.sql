{#-
  Row source, seed layout: the customer turns that start in the range, with their first reply,
  derived over every message of the window's conversations (conversation_messages of
  sources/seed/window.sql). Columns: turn_at, response_us (the first reply's time - turn_at
  in microseconds; NULL without a reply).
-#}
{% import 'macros/request.sql' as r with context -%}
{% import 'macros/rows.sql' as rows with context -%}
SELECT t.turn_at, TIMESTAMP_DIFF(t.reply_at, t.turn_at, MICROSECOND) AS response_us
    FROM (
      {{ rows.turn_windows(none, messages='conversation_messages') }}
    ) AS t
    WHERE t.turn_start AND {{ r.in_range('t.turn_at') }}
