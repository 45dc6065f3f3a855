{#-
  Row source, facts layout: the customer turns that start in the range, from message_facts
  (turn starts and first replies derived when the rows were loaded). The same columns as
  sources/seed/turns.sql.
-#}
{% import 'macros/request.sql' as r with context -%}
SELECT f.ts AS turn_at, f.reply_at
    FROM message_facts AS f
    WHERE {{ r.scope('f', derived=True) }} AND {{ r.in_range('f.ts') }} AND f.turn_start
