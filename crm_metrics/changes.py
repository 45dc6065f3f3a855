"""PostgreSQL's live rollup: applying the writes its triggers queue.

After `crm-metrics init-db --rollup`, every statement that writes `conversations` or `messages`
(any client: INSERT, UPDATE, DELETE, COPY, TRUNCATE) appends the ids of the conversations it
touched to `crm_metrics_changes`, in its own transaction (sql/schema/postgres-live.sql).
`apply` takes them in batches of conversations and recomputes those conversations' facts and
rollup slots with the derivation every load runs (crm_metrics/derived.py), deleting their
queued rows in the same transaction: a crash (even SIGKILL) rolls the batch back and the changes stay queued;
a change applied twice is recomputed from the same rows, so nothing is lost or counted twice.
`crm-metrics serve` runs `follow` in a thread; one applier runs at a time, whatever the number
of servers (the lock on the derived tables that loads take too).
"""

from __future__ import annotations

import logging
import threading

from crm_metrics import derived
from crm_metrics.compiler import parse_dialect
from crm_metrics.config import Settings
from crm_metrics.errors import MetricsError
from crm_metrics.executors import Executor, connect
from crm_metrics.executors.base import ChangeQueue

log = logging.getLogger("crm_metrics.changes")

#: Conversations refreshed per transaction: a bulk write's backlog is applied in steps of this
#: many, each short enough to keep the lag of the writes queued behind it low.
BATCH = 2_000
#: Seconds between attempts while the database fails (each failure is logged once).
RETRY_SECONDS = 5.0


def apply(executor: Executor, *, limit: int = BATCH) -> int:
    """Apply every change queued now (and those queued meanwhile), batch after batch; the
    number of conversations refreshed. 0 on an engine without the live rollup."""
    if not isinstance(executor, ChangeQueue):
        return 0
    # A live rollup installed before the priced costs' table keeps its derived tables and
    # slots exact without it (its store answers from the derived tables until `init-db
    # --rollup` adds it): a missing table must not stop the applier.
    refresh = derived.refresh(
        parse_dialect(executor.dialect), rollup=True, costs=executor.has_table(derived.COSTS), prices=executor.has_table(derived.RATE_CARD)
    )
    total = 0
    while done := executor.apply_changes(refresh, limit):
        total += done
    return total


def follow(settings: Settings, stop: threading.Event) -> None:
    """Apply queued changes every `settings.rollup_poll_seconds` until `stop` is set, over a
    connection of its own that may write (the server's own is read-only). A database that
    fails is tried again every RETRY_SECONDS; nothing here stops the server."""
    executor: Executor | None = None
    failing = False
    try:
        while not stop.is_set():
            try:
                if executor is None:
                    executor = connect(settings.database_url, settings=settings)
                applied = apply(executor)
                if applied:
                    log.debug("rollup: %d conversations refreshed", applied)
                if failing:
                    log.info("rollup: applying changes again")
                failing = False
                stop.wait(settings.rollup_poll_seconds)
            except MetricsError as error:
                if not failing:
                    log.error("rollup: cannot apply changes (retrying every %s s): %s", RETRY_SECONDS, error)
                failing = True
                stop.wait(RETRY_SECONDS)
    finally:
        if executor is not None:
            executor.close()
