{#-
  Row source, facts layout: the customer turns that start in the range, from message_facts
  (turn starts, first replies and response times derived when the rows were loaded). The same columns as
  sources/seed/turns.sql.
-#}
{% import 'macros/request.sql' as r with context -%}
SELECT f.ts AS turn_at, f.response_us
    FROM message_facts AS f
    WHERE {{ r.scope('f', derived=True) }} AND {{ r.in_range('f.ts') }} AND f.turn_start
