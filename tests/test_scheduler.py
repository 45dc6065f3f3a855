"""The report scheduler against real peers on loopback: a webhook receiver (http.server) and
an SMTP server (aiosmtpd), with a controlled clock: across both DST changes, a restart in the
middle of a period and after downtime, a delivery that fails and later succeeds. Each report
goes out exactly once, at its local time."""

from __future__ import annotations

import datetime as dt
import email
import http.server
import shutil
import subprocess
import threading
from collections.abc import Iterator
from email import policy
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from crm_metrics import ConfigError, Metrics, Settings
from crm_metrics.schedule import Delivery, Entry, Period, parse
from crm_metrics.scheduler import Scheduler
from server import ServerConfig, create_app

from tests.support.api import TENANT_A, free_port, load
from tests.support.engines import unavailable

UTC = dt.UTC
NOBODY = "00000000-0000-0000-0000-0000000000ff"  # a tenant with no rows at all


class Receiver:
    """A webhook endpoint on loopback: records every POST; answers 500 while `failures` > 0."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.failures = 0
        self.clock: list[dt.datetime] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.failures > 0:
                    receiver.failures -= 1
                    self.send_response(500)
                else:
                    receiver.posts.append({"headers": dict(self.headers), "body": body, "at": receiver.clock[0] if receiver.clock else None})
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/reports"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def periods(self) -> list[str]:
        return [post["headers"]["X-Report-Period"] for post in self.posts]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def schedule(**entry: Any) -> Any:
    base = {"name": "r", "tenant_id": TENANT_A, "cadence": "daily", "at": "08:00", "format": "html"}
    return parse({"report": [{**base, **entry}], "retry": {"attempts": 3, "first_seconds": 60, "max_seconds": 600}})


class Clock:
    def __init__(self, start: dt.datetime, receiver: Receiver | None = None) -> None:
        self.now = [start]
        if receiver is not None:
            receiver.clock = self.now

    def __call__(self) -> dt.datetime:
        return self.now[0]

    def run(self, scheduler: Scheduler, until: dt.datetime, step: dt.timedelta) -> None:
        while self.now[0] <= until:
            scheduler.tick()
            self.now[0] += step


@pytest.fixture
def metrics() -> Iterator[Metrics]:
    with Metrics.connect(settings=Settings(database_url="duckdb:///:memory:")) as metrics:
        yield load(metrics)


@pytest.mark.parametrize(
    ("at", "start", "expected"),
    [
        # Spring forward, 2026-03-08 02:00 EST -> 03:00 EDT: 02:30 does not exist that day and
        # reads as 03:30 EDT (07:30 UTC); the day after, 02:30 EDT (06:30 UTC).
        ("02:30", dt.datetime(2026, 3, 7, 12, tzinfo=UTC), [("2026-03-07/2026-03-07", dt.datetime(2026, 3, 8, 7, 30, tzinfo=UTC)), ("2026-03-08/2026-03-08", dt.datetime(2026, 3, 9, 6, 30, tzinfo=UTC))]),
        # Fall back, 2026-11-01 02:00 EDT -> 01:00 EST: 01:30 happens twice; the report goes
        # at the first (05:30 UTC), not again at the second (06:30 UTC).
        ("01:30", dt.datetime(2026, 10, 31, 12, tzinfo=UTC), [("2026-10-31/2026-10-31", dt.datetime(2026, 11, 1, 5, 30, tzinfo=UTC)), ("2026-11-01/2026-11-01", dt.datetime(2026, 11, 2, 6, 30, tzinfo=UTC))]),
    ],
    ids=["spring-forward", "fall-back"],
)
def test_daily_reports_across_dst(metrics: Metrics, receiver: Receiver, at: str, start: dt.datetime, expected: list[tuple[str, dt.datetime]]) -> None:
    clock = Clock(start, receiver)
    scheduler = Scheduler(metrics, schedule(at=at, tz="America/New_York", deliver={"webhook": receiver.url}), clock=clock)
    scheduler.start()
    clock.run(scheduler, start + dt.timedelta(hours=48), dt.timedelta(minutes=10))
    assert [(post["headers"]["X-Report-Period"], post["at"]) for post in receiver.posts] == expected


def test_restart_neither_skips_nor_repeats(tmp_path: Path, receiver: Receiver) -> None:
    url = f"duckdb:///{tmp_path / 'store.duckdb'}"
    with Metrics.connect(settings=Settings(database_url=url)) as writer:
        load(writer)
    plan = schedule(deliver={"webhook": receiver.url})  # 08:00 in Asia/Jakarta: 01:00 UTC
    clock = Clock(dt.datetime(2025, 11, 1, 0, 0, tzinfo=UTC), receiver)

    def session(until: dt.datetime) -> None:
        # A process: opens the store, runs until `until`, stops (the record stays in the store).
        with Metrics.connect(settings=Settings(database_url=url)) as metrics:
            scheduler = Scheduler(metrics, plan, clock=clock)
            scheduler.start()
            clock.run(scheduler, until, dt.timedelta(minutes=30))

    session(dt.datetime(2025, 11, 2, 3, 0, tzinfo=UTC))
    assert receiver.periods() == ["2025-10-31/2025-10-31", "2025-11-01/2025-11-01"]
    # Restarted in the middle of the period whose report was just sent: nothing again.
    clock.now[0] = dt.datetime(2025, 11, 2, 5, 0, tzinfo=UTC)
    session(dt.datetime(2025, 11, 2, 6, 0, tzinfo=UTC))
    assert len(receiver.posts) == 2
    # Down while two reports fell due: both go out once the scheduler is back, oldest first.
    clock.now[0] = dt.datetime(2025, 11, 4, 5, 0, tzinfo=UTC)
    session(dt.datetime(2025, 11, 4, 6, 0, tzinfo=UTC))
    assert receiver.periods() == [f"2025-{d}/2025-{d}" for d in ("10-31", "11-01", "11-02", "11-03")]
    assert [post["at"] for post in receiver.posts[2:]] == [dt.datetime(2025, 11, 4, 5, 0, tzinfo=UTC)] * 2


def test_failed_delivery_is_retried_until_it_succeeds(metrics: Metrics, receiver: Receiver) -> None:
    clock = Clock(dt.datetime(2025, 11, 1, 0, 0, tzinfo=UTC), receiver)
    scheduler = Scheduler(metrics, schedule(deliver={"webhook": receiver.url}), clock=clock)
    scheduler.start()
    client = TestClient(create_app(metrics, ServerConfig()))
    receiver.failures = 2
    clock.run(scheduler, dt.datetime(2025, 11, 1, 1, 1, 30, tzinfo=UTC), dt.timedelta(seconds=30))
    # Due at 01:00 UTC, failed at once: retried 60 s later, failed again, now waiting 120 s.
    assert receiver.posts == [] and receiver.failures == 0
    health = client.get("/health").json()
    assert (health["status"], health["reports"]) == ("degraded", "failing")
    (failure,) = health["failing_reports"]
    assert (failure["report"], failure["period_start"], failure["status"], failure["attempts"]) == ("r", "2025-10-31", "retrying", 2)
    assert "500" in failure["error"]
    clock.run(scheduler, dt.datetime(2025, 11, 1, 6, 0, tzinfo=UTC), dt.timedelta(seconds=30))
    assert receiver.periods() == ["2025-10-31/2025-10-31"]
    assert receiver.posts[0]["at"] == dt.datetime(2025, 11, 1, 1, 3, tzinfo=UTC)
    assert client.get("/health").json()["reports"] == "ok"


def test_given_up_report_shows_until_a_later_one_is_sent(metrics: Metrics, receiver: Receiver) -> None:
    clock = Clock(dt.datetime(2025, 11, 1, 0, 0, tzinfo=UTC), receiver)
    scheduler = Scheduler(metrics, schedule(deliver={"webhook": receiver.url}), clock=clock)
    scheduler.start()
    receiver.failures = 3  # the schedule's attempts
    clock.run(scheduler, dt.datetime(2025, 11, 1, 12, 0, tzinfo=UTC), dt.timedelta(minutes=1))
    failing = TestClient(create_app(metrics, ServerConfig())).get("/health").json()["failing_reports"]
    assert [(f["period_start"], f["status"], f["attempts"]) for f in failing] == [("2025-10-31", "failed", 3)]
    clock.run(scheduler, dt.datetime(2025, 11, 2, 2, 0, tzinfo=UTC), dt.timedelta(minutes=10))
    assert receiver.periods() == ["2025-11-01/2025-11-01"]
    assert TestClient(create_app(metrics, ServerConfig())).get("/health").json()["reports"] == "ok"
    # /metrics counts the attempts of the scheduler running beside the server.
    app = create_app(metrics, ServerConfig())
    app.state.scheduler = scheduler
    scraped = TestClient(app).get("/metrics").text
    for line in ('crm_metrics_report_deliveries_total{outcome="sent"} 1.0', 'crm_metrics_report_deliveries_total{outcome="retrying"} 2.0', 'crm_metrics_report_deliveries_total{outcome="failed"} 1.0', "crm_metrics_scheduler_tick_failures_total 0.0"):
        assert line in scraped.splitlines()
    # Every minute from 00:00 to 12:00 (721), then every 10 minutes from 12:01 to 02:00 (84).
    assert scheduler.counts["ticks"] == 721 + 84


def test_email_carries_the_pdf(metrics: Metrics) -> None:
    from aiosmtpd.controller import Controller

    if shutil.which("pdftotext") is None:
        unavailable("pdftotext is missing (Debian's poppler-utils; make test installs it)")
    received: list[bytes] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
            received.append(envelope.content)
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        plan = parse(
            {
                "smtp": {"host": "127.0.0.1", "port": port, "sender": "reports@example.test"},
                "report": [{"name": "weekly", "tenant_id": TENANT_A, "cadence": "weekly", "weekday": "monday", "at": "07:00", "deliver": {"email": ["lead@example.test"]}}],
            }
        )
        # Started on Monday 2025-11-03 08:00 in Jakarta, after that day's 07:00: the first
        # report is next Monday's.
        clock = Clock(dt.datetime(2025, 11, 3, 1, 0, tzinfo=UTC))
        scheduler = Scheduler(metrics, plan, clock=clock)
        scheduler.start()
        # Monday 2025-11-10 07:00 in Jakarta is 00:00 UTC: the week 11-03 .. 11-09.
        clock.run(scheduler, dt.datetime(2025, 11, 10, 1, 0, tzinfo=UTC), dt.timedelta(hours=1))
        assert len(received) == 1
        clock.run(scheduler, dt.datetime(2025, 11, 12, 0, 0, tzinfo=UTC), dt.timedelta(hours=1))
    finally:
        controller.stop()
    assert len(received) == 1
    message = email.message_from_bytes(received[0], policy=policy.default)
    assert message["To"] == "lead@example.test"
    assert "2025-11-03 to 2025-11-09" in message["Subject"] and "Acme Corp" in message["Subject"]
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == f"report-{TENANT_A}-2025-11-03-2025-11-09.pdf"
    pdf = attachment.get_content()
    assert pdf.startswith(b"%PDF")
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    assert "Acme Corp" in text and "2025-11-03 to 2025-11-09, Asia/Jakarta" in text


def test_a_report_without_data_still_goes_out(metrics: Metrics, tmp_path: Path) -> None:
    clock = Clock(dt.datetime(2025, 11, 1, 0, 0, tzinfo=UTC))
    scheduler = Scheduler(metrics, schedule(tenant_id=NOBODY, tz="UTC", at="00:30", deliver={"directory": str(tmp_path / "out")}), clock=clock)
    scheduler.start()
    clock.run(scheduler, dt.datetime(2025, 11, 1, 1, 0, tzinfo=UTC), dt.timedelta(minutes=15))
    (written,) = (tmp_path / "out").iterdir()
    assert written.name == f"report-{NOBODY}-2025-10-31-2025-10-31.html"
    assert "No data: no conversations or messages in this period." in written.read_text()


def test_calendar() -> None:
    weekly = Entry("w", TENANT_A, "weekly", dt.time(9), Delivery("directory", "/x"), weekday=2)
    # Sent on Wednesday 2026-11-11 for the ISO week before it, Monday 11-02 .. Sunday 11-08.
    assert weekly.period_before(dt.date(2026, 11, 11)) == Period(dt.date(2026, 11, 2), dt.date(2026, 11, 8))
    assert weekly.sending_day(Period(dt.date(2026, 11, 2), dt.date(2026, 11, 8))) == dt.date(2026, 11, 11)
    monthly = Entry("m", TENANT_A, "monthly", dt.time(9), Delivery("directory", "/x"), day=28)
    assert monthly.period_before(dt.date(2026, 3, 28)) == Period(dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    assert monthly.due(Period(dt.date(2026, 2, 1), dt.date(2026, 2, 28)), "Asia/Jakarta") == dt.datetime(2026, 3, 28, 2, tzinfo=UTC)
    assert monthly.next_period(Period(dt.date(2026, 2, 1), dt.date(2026, 2, 28))) == Period(dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    # A new entry starts with the first report due from now.
    assert monthly.first_due_from(dt.datetime(2026, 3, 28, 2, tzinfo=UTC), "Asia/Jakarta").start == dt.date(2026, 2, 1)
    assert monthly.first_due_from(dt.datetime(2026, 3, 28, 2, 1, tzinfo=UTC), "Asia/Jakarta").start == dt.date(2026, 3, 1)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"cadence": "hourly"}, "cadence: must be one of daily, weekly, monthly"),
        ({"cadence": "weekly"}, "weekday: must be one of monday"),
        ({"cadence": "monthly", "day": 31}, "day must be a day of the month from 1 to 28"),
        ({"at": "8am"}, "at must be a local time"),
        ({"tz": "Mars/Olympus"}, "unknown timezone"),
        ({"deliver": {"email": ["lead@example.test"]}}, "e-mail deliveries need an [smtp] table"),
        ({"deliver": {"webhook": "ftp://x"}}, "webhook takes an http:// or https:// URL"),
        ({"colour": "red"}, "unknown key colour"),
    ],
)
def test_schedule_errors_name_the_key(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match="report 1 \\(r\\)|report 1:|schedule:") as raised:
        schedule(**{"deliver": {"directory": "/tmp/x"}, **change})
    assert message in str(raised.value)


def test_alerts_post_each_new_anomaly_once(receiver: Receiver) -> None:
    # docs/anomalies.md: an [[alert]] checks the last `days` complete days every `every_minutes`;
    # each anomaly is posted once, across checks and restarts; a failed post is tried again.
    import json

    from tests.support import daily

    plan = parse({"alert": [{
        "name": "acme", "tenant_id": TENANT_A, "metrics": ["total_conversations", "handoff_rate"], "days": 15,
        "every_minutes": 30, "tz": "UTC", "deliver": {"webhook": receiver.url},
    }]})
    settings = Settings(database_url="duckdb:///:memory:", anomaly_min_volume=5)
    with Metrics.connect(settings=settings) as metrics:
        metrics.store.init_db()
        for table, rows in daily.rows().items():
            metrics.store.load_rows(table, rows)
        clock = Clock(dt.datetime(2025, 11, 4, 9, tzinfo=UTC), receiver)
        receiver.failures = 1  # the first post fails: tried again at the next check
        scheduler = Scheduler(metrics, plan, clock=clock)
        scheduler.start()
        assert scheduler.tick() == dt.datetime(2025, 11, 4, 9, 30, tzinfo=UTC)
        assert len(receiver.posts) == 1
        clock.run(scheduler, dt.datetime(2025, 11, 4, 11, tzinfo=UTC), dt.timedelta(minutes=10))
        # A restart checks at once; the record keeps it from posting again.
        Scheduler(metrics, plan, clock=clock).tick()
    bodies = sorted((json.loads(post["body"]) for post in receiver.posts), key=lambda body: body["anomaly"]["date"])
    assert [(b["metric"], b["anomaly"]["date"], b["anomaly"]["direction"]) for b in bodies] == [
        ("total_conversations", str(daily.DROP), "down"), ("total_conversations", str(daily.SPIKE), "up"),
    ]
    assert bodies[0]["alert"] == "acme" and bodies[0]["tenant_id"] == TENANT_A
    assert receiver.posts[0]["headers"]["X-Alert-Name"] == "acme"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"metrics": ["total_handoffs"]}, "metrics: must be one of"),
        ({"deliver": {"directory": "/tmp/x"}}, "alerts go to a webhook"),
        ({"days": 0}, "days must be from 1 to 31"),
        ({"direction": "sideways"}, "direction: must be one of both, up, down"),
    ],
)
def test_alert_errors_name_the_key(change: dict[str, Any], message: str) -> None:
    base = {"name": "a", "tenant_id": TENANT_A, "deliver": {"webhook": "http://127.0.0.1:9/x"}}
    with pytest.raises(ConfigError, match="alert 1 \\(a\\)") as raised:
        parse({"alert": [{**base, **change}]})
    assert message in str(raised.value)
