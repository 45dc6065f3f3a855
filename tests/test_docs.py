"""The docs match the code: the generated sections of docs/ (`make docs` rewrites them), the
README's examples answering against the demo, every link resolving, the metrics contract in
docs/metrics.md, and no file pointing outside the repository."""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from crm_metrics import templates
from crm_metrics.request import DEFAULT_SPAN_DAYS

from tests.support.docs import DOCS, MARKER, PAGES, README, ROOT, _subparsers, render
from tests.support.markdown import anchors, links

#: The pages a reader reaches from the front page, and whose links must resolve.
PAGES_READ = [README, *sorted(DOCS.glob("*.md")), ROOT / "bench" / "README.md"]
HTTP_DOC = DOCS / "http.md"
FRONT_PAGE_LINES = 250


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("page", list(PAGES), ids=_name)
def test_generated_sections_are_current(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert render(page, text) == text, f"{_name(page)} is stale: run `make docs` and commit the result"


def test_generated_sections_are_where_the_generator_writes() -> None:
    """A section's markers in a page `make docs` does not rewrite would hold text nobody keeps
    current."""
    for page in PAGES_READ:
        names = {name for name, _ in MARKER.findall(page.read_text(encoding="utf-8"))}
        assert names == set(PAGES.get(page, {})), f"{_name(page)}: generated sections {sorted(names)}"


def test_readme_is_a_front_page() -> None:
    """Short, and every page of docs/ is linked from it."""
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= FRONT_PAGE_LINES
    linked = {(README.parent / target.partition("#")[0]).resolve() for target in links(README)}
    unlinked = [_name(page) for page in sorted(DOCS.glob("*.md")) if page.resolve() not in linked]
    assert not unlinked, f"README.md does not link {unlinked}"


def test_readme_starts_with_the_quickstart() -> None:
    text = README.read_text(encoding="utf-8")
    assert text.index("make run") < text.index("make test") < text.index("crm-metrics query")


def test_every_link_resolves() -> None:
    """Every relative link of the README, docs/ and bench/README.md names a file or folder of
    the repository, and a heading of it where the link has an #anchor."""
    broken = []
    for page in PAGES_READ:
        for target in links(page):
            path, _, anchor = target.partition("#")
            resolved = (page.parent / path).resolve() if path else page
            if not resolved.is_relative_to(ROOT) or not resolved.exists():
                broken.append(f"{_name(page)}: {target} (no such file)")
            elif anchor and (resolved.suffix != ".md" or anchor not in anchors(resolved)):
                broken.append(f"{_name(page)}: {target} (no such heading)")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_the_link_check_sees_links_and_anchors(tmp_path: Path) -> None:
    """What the link check reads: links outside code, headings as GitHub anchors them."""
    page = tmp_path / "page.md"
    page.write_text(
        "# Derived tables: `init-db --rollup`\n\n## Notes\n\n## Notes\n\n"
        "See [a](other.md#x), ![b](img.png), [c](https://example.com) and `[d](code.md)`.\n\n"
        "| table |\n|---|\n| [e](cell.md) |\n\n```\n[f](fenced.md)\n```\n",
        encoding="utf-8",
    )
    assert list(links(page)) == ["other.md#x", "img.png", "cell.md"]
    assert anchors(page) == {"derived-tables-init-db---rollup", "notes", "notes-1"}


# -- the README's examples, against the demo `make run` writes --------------------------------


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A DuckDB store with the demo data, as `make run` writes it: the 90 days up to today."""
    from crm_metrics import Metrics, demo

    url = f"duckdb:///{tmp_path_factory.mktemp('demo') / 'crm_metrics.duckdb'}"
    with Metrics.connect(url) as metrics:
        demo.write(metrics)
    return url


def _curl_examples(text: str, method: str = "GET") -> list[tuple[str, str | None]]:
    """(path and query, tenant or None) of every curl of the local server with `method`
    (`-X POST`), continuation lines joined."""
    found = []
    for command in text.replace("\\\n", " ").splitlines():
        url = re.search(r'curl [^"]*"http://(?:localhost|127\.0\.0\.1):3007(/[^"]*)"', command)
        verb = re.search(r"-X (\w+)", command)
        if url and (verb.group(1) if verb else "GET") == method:
            tenant = re.search(r'-H "X-Tenant-Id: ([0-9a-f-]{36})"', command)
            found.append((url.group(1), tenant.group(1) if tenant else None))
    return found


def test_the_readme_has_one_curl_per_endpoint() -> None:
    from server.routes import ROUTES

    text = README.read_text(encoding="utf-8")
    paths = [path.partition("?")[0] for method in ("GET", "POST") for path, _ in _curl_examples(text, method)]
    # A path with parameters (/api/v1/metrics/custom/{name}) is shown with a value.
    matched = [next(route.path for route in ROUTES if route.path_regex.match(path)) for path in paths]
    assert sorted(matched) == sorted(route.path for route in ROUTES)


def test_the_readme_event_example_is_accepted(demo_url: str, tmp_path: Path) -> None:
    """The README's POST, against a server started as it says (EVENTS_TOKEN=dev-token), over a
    copy of the demo store."""
    import shutil

    from starlette.testclient import TestClient

    from crm_metrics import Metrics
    from server import ServerConfig, create_app

    command = next(line for line in README.read_text(encoding="utf-8").splitlines() if "-X POST" in line)
    token = re.search(r'-H "Authorization: Bearer ([^"]+)"', command)
    body = re.search(r"--data-binary '([^']*)'", command)
    assert token and body and "EVENTS_TOKEN=" + token.group(1) in README.read_text(encoding="utf-8")
    copy = tmp_path / "demo.duckdb"
    shutil.copy(demo_url.removeprefix("duckdb:///"), copy)
    with Metrics.connect(f"duckdb:///{copy}") as metrics, TestClient(create_app(metrics, ServerConfig(events_token=token.group(1)))) as client:
        response = client.post("/api/v1/events", content=body.group(1).encode(), headers={"Authorization": f"Bearer {token.group(1)}"})
        assert (response.status_code, response.json()) == (202, {"accepted": 1})


@pytest.mark.parametrize("page", [README, HTTP_DOC], ids=_name)
def test_the_curl_examples_answer_with_data_against_the_demo(page: Path, demo_url: str) -> None:
    """The curl examples, against `make run` (the demo: the 90 days up to today), get answers
    with conversations in them, not zeros for dates the demo does not hold."""
    from starlette.testclient import TestClient

    from crm_metrics import Metrics, Settings
    from server import ServerConfig, create_app

    examples = _curl_examples(page.read_text(encoding="utf-8"))
    assert sum(path.startswith("/api/v1/") for path, _ in examples) >= 2
    # As `make run` serves it: priced costs by the example tables (the costs answer needs them),
    # and the example custom metrics (CRM_METRICS_PATH=examples/metrics).
    settings = Settings(database_url=demo_url, cost_model="priced", whatsapp_prices=str(ROOT / "examples/prices/whatsapp.csv"), llm_prices=str(ROOT / "examples/prices/llm.csv"))
    with Metrics.connect(demo_url, read_only=True, settings=settings, metrics_path=str(ROOT / "examples" / "metrics")) as metrics, TestClient(create_app(metrics, ServerConfig())) as client:
        for path, tenant in examples:
            response = client.get(path, headers={"X-Tenant-Id": tenant} if tenant else {})
            assert response.status_code == 200, (path, response.text[:200])
            if path.startswith("/api/v1/metrics/anomalies"):
                # The demo is calm: no anomaly is its right answer; the history was read.
                assert response.json()["anomalies"] == [], path
            elif path.startswith("/api/v1/metrics/"):
                assert _has_data(response.json()), f"{path} answers zeros against the demo"


def _has_data(body: object) -> bool:
    """Whether an answer counts something: a positive count of conversations, messages or turns."""
    if isinstance(body, dict):
        return any(
            (isinstance(value, int) and not isinstance(value, bool) and value > 0 and any(word in key for word in ("conversations", "messages", "turns")))
            or (key in ("actual_to_date", "actual") and isinstance(value, (int, float)) and value > 0)  # the forecast: so far, or the month before
            or _has_data(value)
            for key, value in body.items()
        )
    return isinstance(body, list) and any(_has_data(item) for item in body)


def _blocks(text: str, language: str) -> Iterator[str]:
    yield from re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.S | re.M)


def test_the_library_snippet_runs_against_the_demo(demo_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    (snippet,) = [block for block in _blocks(README.read_text(encoding="utf-8"), "python")]
    assert snippet.count('"duckdb:///crm_metrics.duckdb"') == 1
    exec(compile(snippet.replace("duckdb:///crm_metrics.duckdb", demo_url), "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "Acme Corp" in printed  # the summary's tenant_name
    assert "tenant_id must be a UUID" in printed  # the InvalidParameter's field and message


def test_the_cli_examples_run_against_the_demo(demo_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from crm_metrics.cli import main

    commands = [
        shlex.split(line, comments=True)[1:]
        for block in _blocks(README.read_text(encoding="utf-8"), "bash")
        for line in block.splitlines()
        if line.startswith(".venv/bin/crm-metrics ")
    ]
    assert any(command[:1] == ["query"] for command in commands)
    monkeypatch.setenv("DATABASE_URL", demo_url)
    for command in commands:
        assert main(command) == 0, (command, capsys.readouterr().err)
        assert capsys.readouterr().out.strip(), command


# -- what the docs say, against the code ------------------------------------------------------


def test_the_default_range_is_said_to_be_31_days() -> None:
    """end_date - 30 days, both ends included: 31 days, wherever the default is described."""
    from crm_metrics.cli import _parser
    from server import openapi

    days = f"{DEFAULT_SPAN_DAYS + 1} days"
    summary = _subparsers(_subparsers(_parser())["query"])["summary"]
    assert days in " ".join(summary.format_help().split())
    parameters = openapi.build(auth=False)["paths"]["/api/v1/metrics/summary"]["get"]["parameters"]
    assert days in next(p["description"] for p in parameters if p["name"] == "start_date")
    for page in PAGES_READ:
        assert "last 30 days" not in page.read_text(encoding="utf-8"), _name(page)
    assert days in README.read_text(encoding="utf-8")
    assert HTTP_DOC.read_text(encoding="utf-8").count(days) >= 2


def test_handoff_rate_is_described_as_the_contract_defines_it() -> None:
    """Conversations with a handoff request (metadata.handoff_requested), not "handed-off" ones,
    which reads as status = 'handed_off'."""
    from server import openapi

    sql = sorted(templates.sql_dir().rglob("*.sql"))
    assert sql, "no SQL templates found"
    sources = [path.read_text(encoding="utf-8") for path in [*PAGES_READ, *sql]]
    assert not any("handed-off /" in source for source in sources)
    schemas = openapi.build(auth=False)["components"]["schemas"]
    for schema in ("Summary", "HandoffMetrics"):
        assert "handoff request" in schemas[schema]["properties"]["handoff_rate"]["description"]


METRICS_DOC = DOCS / "metrics.md"
#: A clone is complete on its own: no file names a document kept outside the repository.
OUTSIDE = ("shared/", "metrics-contract.md", "dialect-traps.md", "DEVELOPERS.md")


def _tracked(*patterns: str) -> list[Path]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--", *patterns], cwd=ROOT, capture_output=True, check=True, text=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the tracked files are unknown")
    return [ROOT / name for name in listed.split("\0") if name]


def test_no_file_points_outside_the_repository() -> None:
    files = [path for path in _tracked("*.py", "*.md", "*.sql") if path != Path(__file__).resolve() and path.is_file()]
    assert METRICS_DOC in files
    found = [
        f"{path.relative_to(ROOT)}:{number}: {needle}"
        for path in files
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        for needle in OUTSIDE
        if needle in line
    ]
    assert not found, "files point outside the repository (say it here, or link docs/metrics.md):\n" + "\n".join(found)


def test_the_metrics_contract_has_its_numbered_sections() -> None:
    """Tests and code comments cite docs/metrics.md by section number: §1 to §8, in order, and
    §7's parts 7.1 to 7.6."""
    headings = re.findall(r"^(#{2,3}) (.+)$", METRICS_DOC.read_text(encoding="utf-8"), flags=re.MULTILINE)
    sections = [title for level, title in headings if level == "##"]
    assert [re.match(r"(\d+)\. \S", title) and int(title.split(".")[0]) for title in sections] == list(range(1, 9)), sections
    parts = [title.split(" ")[0] for level, title in headings if level == "###" and re.match(r"7\.\d ", title)]
    assert parts == [f"7.{n}" for n in range(1, 7)]
    # Anchors stay stable and unambiguous: no heading text twice.
    titles = [title for _, title in headings]
    assert len(titles) == len(set(titles)), sorted(t for t in titles if titles.count(t) > 1)
