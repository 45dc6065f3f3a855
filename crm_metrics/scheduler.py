"""The report scheduler: sends each report of a schedule file (crm_metrics/schedule.py) once
per period, at its local time, by e-mail (SMTP, the report attached), webhook (an HTTP POST of
the report) or into a directory.

    crm-metrics scheduler reports.toml          # alone
    crm-metrics serve --schedule reports.toml   # inside the HTTP server

What was planned and sent is recorded in the store (crm_metrics/deliveries.py) before and
after each delivery, so a restart goes on where it stopped: a report that fell due while the
scheduler was down goes out when it starts again, and one already sent is not sent again.
(Only a crash between a delivery and its record, a moment, can send one twice: delivery is at
least once.) A failed delivery is tried again with a growing wait (`[retry]`), logged, and
shown by /health until it is sent or, after the last attempt, until a later report of the
same entry goes out.

Alerts (`[[alert]]`, docs/anomalies.md) are checked every `every_minutes`: the anomalies of
the last `days` complete days, each posted once to the alert's webhook (as JSON). Each is
recorded under `alert:NAME:METRIC` and its day in the same record, so a restart or the next
check never posts it again; a failed post is tried again at the next check, up to the
`[retry]` attempts.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import zoneinfo
from collections import Counter
import smtplib
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from crm_metrics import report, request
from crm_metrics.config import Settings
from crm_metrics.deliveries import Deliveries
from crm_metrics.models import Anomalies, Anomaly
from crm_metrics.schedule import Alert, Entry, Period, Schedule, load

__all__ = ["DeliveryError", "Scheduler", "load", "run_file"]
from crm_metrics.service import Metrics

log = logging.getLogger("crm_metrics.scheduler")

#: The scheduler looks again at least this often (seconds), whatever it expects next.
MAX_SLEEP_SECONDS = 60.0
WEBHOOK_TIMEOUT_SECONDS = 30.0


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Document:
    """A rendered report, ready to deliver."""

    entry: Entry
    period: Period
    tz: str
    tenant_name: str
    body: bytes
    filename: str
    media_type: str
    empty: bool

    @property
    def subject(self) -> str:
        span = str(self.period.start) if self.period.start == self.period.end else f"{self.period.start} to {self.period.end}"
        return f"{self.tenant_name}: {self.entry.cadence} report, {span} ({self.tz})" + (" - no data" if self.empty else "")


class DeliveryError(Exception):
    """A delivery did not go through (it is tried again)."""


class Scheduler:
    def __init__(self, metrics: Metrics, schedule: Schedule, *, clock: Callable[[], dt.datetime] = _utc_now) -> None:
        self.metrics = metrics
        self.schedule = schedule
        self.clock = clock
        self.deliveries = Deliveries(metrics)
        #: What happened since start, for /metrics: ticks, tick_failures, and attempts by
        #: outcome (sent, retrying, failed). Only this scheduler's thread writes it.
        self.counts: Counter[str] = Counter()
        #: When each alert is checked next (in memory: after a restart every alert is checked
        #: at once, and the record keeps it from posting an anomaly twice).
        self.next_check: dict[str, dt.datetime] = {}

    def start(self) -> None:
        """Make the record's table where missing."""
        self.deliveries.create()

    def tick(self) -> dt.datetime:
        """Send every report due now (and every one missed since the last run, oldest first);
        the next moment something falls due."""
        now = self.clock()
        self.counts["ticks"] += 1
        wakes = [self._entry(entry, now) for entry in self.schedule.entries]
        wakes += [self._alert(alert, now) for alert in self.schedule.alerts]
        return min(wakes)

    def run(self, stop: threading.Event) -> None:
        """Tick until `stop` is set, sleeping until the next report falls due."""
        log.info("scheduler started: %d reports, %d alerts", len(self.schedule.entries), len(self.schedule.alerts))
        while not stop.is_set():
            try:
                wake = self.tick()
                wait = (wake - self.clock()).total_seconds()
            except Exception:
                # The store is down, say: log it and look again later, never die.
                self.counts["tick_failures"] += 1
                log.exception("scheduler tick failed")
                wait = MAX_SLEEP_SECONDS
            stop.wait(min(max(wait, 0.0), MAX_SLEEP_SECONDS))
        log.info("scheduler stopped")

    def _entry(self, entry: Entry, now: dt.datetime) -> dt.datetime:
        tz = entry.tz or self.metrics.tenant(entry.tenant_id)[1] or "UTC"
        while True:
            latest = self.deliveries.latest(entry.name)
            if latest is None:
                # A new report starts with the first one due from now.
                period = entry.first_due_from(now, tz)
                self.deliveries.plan(entry.name, period, entry.due(period, tz), now)
                continue
            period = Period(latest.period_start, latest.period_end)
            if latest.status in ("sent", "failed"):
                following = entry.next_period(period)
                self.deliveries.plan(entry.name, following, entry.due(following, tz), now)
                continue
            due = latest.next_attempt_at if latest.status == "retrying" and latest.next_attempt_at else entry.due(period, tz)
            if due > now:
                return due
            self._attempt(entry, period, tz, latest.attempts, now)

    def _alert(self, alert: Alert, now: dt.datetime) -> dt.datetime:
        """Post the new anomalies of an alert when its check is due; when it is due next."""
        due = self.next_check.get(alert.name, now)
        if due > now:
            return due
        tz = alert.tz or self.metrics.tenant(alert.tenant_id)[1] or "UTC"
        today = now.astimezone(zoneinfo.ZoneInfo(tz)).date()
        start, end = today - dt.timedelta(days=alert.days), today - dt.timedelta(days=1)
        for metric in alert.metrics:
            found = self.metrics.anomalies(alert.tenant_id, metric, start, end, alert.outlet_id, tz, alert.direction)
            for anomaly in found.anomalies:
                self._post(alert, found, anomaly, now)
        self.next_check[alert.name] = now + dt.timedelta(minutes=alert.every_minutes)
        return self.next_check[alert.name]

    def _post(self, alert: Alert, found: Anomalies, anomaly: Anomaly, now: dt.datetime) -> None:
        """Post one anomaly unless the record says it was sent (or given up)."""
        entry, day = f"alert:{alert.name}:{found.metric}", Period(anomaly.date, anomaly.date)
        record = self.deliveries.find(entry, anomaly.date)
        if record is None:
            self.deliveries.plan(entry, day, now, now)
        elif record.status in ("sent", "failed"):
            return
        attempts = (record.attempts if record else 0) + 1
        body = {"alert": alert.name, **{k: v for k, v in found.to_dict().items() if k != "anomalies"}, "anomaly": anomaly.to_dict()}
        try:
            _post_json(alert.webhook, body, {"X-Alert-Name": alert.name})
        except Exception as error:  # any failure is the delivery's: record it, try at the next check
            reason = f"{type(error).__name__}: {error}"
            status = "failed" if attempts >= self.schedule.retry.attempts else "retrying"
            log.warning("alert %s: %s on %s not posted (attempt %d, %s): %s", alert.name, found.metric, anomaly.date, attempts, status, reason)
            self.counts["alert_" + status] += 1
            self.deliveries.record(entry, day, status, attempts, now, last_error=reason)
            return
        self.deliveries.record(entry, day, "sent", attempts, now)
        self.counts["alerts_sent"] += 1
        log.info("alert %s: %s %s on %s posted", alert.name, found.metric, anomaly.direction, anomaly.date)

    def _attempt(self, entry: Entry, period: Period, tz: str, attempts: int, now: dt.datetime) -> None:
        attempts += 1
        try:
            document = self._render(entry, period, tz)
            self._deliver(document)
        except Exception as error:  # any failure is the delivery's: record it and go on
            reason = f"{type(error).__name__}: {error}"
            if attempts >= self.schedule.retry.attempts:
                log.error("report %s for %s..%s failed %d times, given up: %s", entry.name, period.start, period.end, attempts, reason)
                self.counts["failed"] += 1
                self.deliveries.record(entry.name, period, "failed", attempts, now, last_error=reason)
            else:
                retry_at = now + self.schedule.retry.delay(attempts)
                log.warning("report %s for %s..%s failed (attempt %d), retrying at %s: %s", entry.name, period.start, period.end, attempts, retry_at.isoformat(), reason)
                self.counts["retrying"] += 1
                self.deliveries.record(entry.name, period, "retrying", attempts, now, next_attempt_at=retry_at, last_error=reason)
            return
        self.deliveries.record(entry.name, period, "sent", attempts, now)
        self.counts["sent"] += 1
        log.info("report %s for %s..%s sent by %s%s", entry.name, period.start, period.end, entry.delivery.kind, " (no data in the period)" if document.empty else "")

    def _render(self, entry: Entry, period: Period, tz: str) -> Document:
        query = request.query(entry.tenant_id, period.start, period.end, entry.outlet_id, tz)
        gathered = report.gather(self.metrics, query)
        body = report.pdf(gathered) if entry.format == "pdf" else report.html(gathered).encode()
        name = gathered.summary.tenant_name or entry.tenant_id
        return Document(entry, period, tz, name, body, report.filename(gathered.summary, entry.format), report.MEDIA_TYPES[entry.format], gathered.empty)

    def _deliver(self, document: Document) -> None:
        kind = document.entry.delivery.kind
        if kind == "email":
            self._email(document)
        elif kind == "webhook":
            _webhook(document)
        else:
            _directory(document)

    def _email(self, document: Document) -> None:
        smtp = self.schedule.smtp
        assert smtp is not None  # schedule.parse requires it for e-mail deliveries
        message = EmailMessage()
        message["Subject"] = document.subject
        message["From"] = smtp.sender
        message["To"] = ", ".join(document.entry.delivery.target)
        message.set_content(_text(document))
        maintype, subtype = document.media_type.split(";")[0].split("/")
        message.add_attachment(document.body, maintype=maintype, subtype=subtype, filename=document.filename)
        with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout) as client:
            if smtp.starttls:
                client.starttls()
            if smtp.username:
                client.login(smtp.username, smtp.password or "")
            client.send_message(message)


def _text(document: Document) -> str:
    lines = [document.subject, ""]
    if document.empty:
        lines.append("No conversations or messages in this period: the report says so.")
    lines.append(f"The report is attached ({document.filename}).")
    return "\n".join(lines) + "\n"


def _webhook(document: Document) -> None:
    url = document.entry.delivery.target
    assert isinstance(url, str)
    posted = urllib.request.Request(
        url,
        data=document.body,
        method="POST",
        headers={
            "Content-Type": document.media_type,
            "Content-Disposition": f'attachment; filename="{document.filename}"',
            "X-Report-Name": document.entry.name,
            "X-Report-Period": f"{document.period.start}/{document.period.end}",
            "X-Report-Empty": "true" if document.empty else "false",
        },
    )
    try:
        with urllib.request.urlopen(posted, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
            response.read()
    except urllib.error.HTTPError as error:
        raise DeliveryError(f"the webhook answered {error.code}") from None


def _post_json(url: str, body: object, headers: dict[str, str]) -> None:
    posted = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(posted, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
            response.read()
    except urllib.error.HTTPError as error:
        raise DeliveryError(f"the webhook answered {error.code}") from None


def _directory(document: Document) -> None:
    folder = Path(str(document.entry.delivery.target))
    folder.mkdir(parents=True, exist_ok=True)
    # Written aside, then renamed: a reader never sees half a report.
    partial = folder / f".{document.filename}.partial"
    partial.write_bytes(document.body)
    partial.replace(folder / document.filename)


def run_file(path: str | Path, settings: Settings, *, once: bool = False, stop: threading.Event | None = None) -> None:
    """`crm-metrics scheduler FILE`: open the store read-write (it keeps the record), then run
    until SIGINT/SIGTERM, or only once with `once`."""
    import signal

    schedule = load(path)
    stop = stop or threading.Event()
    with Metrics.connect(settings=settings, create=False) as metrics:
        scheduler = Scheduler(metrics, schedule)
        scheduler.start()
        if once:
            scheduler.tick()
            return
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: stop.set())
        scheduler.run(stop)
