"""The BigQuery executor, through google-cloud-bigquery: configuration that fails fast and says
what is wrong, typed parameters and cost controls on every job, loads that are all or nothing,
/health, and what the emulator cannot show (checked on the SQL and the requests sent instead)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp

from crm_metrics import BackendUnavailable, ConfigError, CostLimitExceeded, LoadError, Metrics, QueryTimeout, Settings, request, schema, templates
from crm_metrics.compiler import compile_sql
from crm_metrics.executors import bigquery_target
from crm_metrics.executors.bigquery import BigQueryExecutor
from crm_metrics.loader import prepare
from crm_metrics.templates import Shape
from crm_metrics.query import CompiledQuery, Field
from tests.support import bigquery_emulator
from tests.support.engines import unavailable
from tests.support.wire import FakeBigQuery, Proxy, error

TENANT = "123e4567-e89b-12d3-a456-426614174000"
PROJECT = bigquery_emulator.PROJECT
#: What BigQuery runs: every template of the seed's layout, and the dashboard's other shapes.
SHAPES = [(name, False, templates.load(name).granularities[0]) for name in templates.names()] + [
    ("dashboard", True, "week"),
    ("dashboard", False, "month"),
]


@pytest.fixture(scope="module")
def emulator() -> bigquery_emulator.Emulator:
    try:
        return bigquery_emulator.shared()
    except bigquery_emulator.EmulatorUnavailable as failure:
        unavailable(str(failure))
        raise


@pytest.fixture
def dataset(emulator: bigquery_emulator.Emulator) -> str:
    return emulator.create_dataset()


@pytest.fixture
def proxy(emulator: bigquery_emulator.Emulator) -> Iterator[Proxy]:
    proxy = Proxy(int(emulator.endpoint.rsplit(":", 1)[1]))
    yield proxy
    proxy.close()


def _settings(endpoint: str, dataset: str, **options: object) -> Settings:
    return Settings(database_url=f"bigquery://{PROJECT}/{dataset}", bigquery_api_endpoint=endpoint, **options)


@pytest.fixture
def metrics(emulator: bigquery_emulator.Emulator, dataset: str) -> Iterator[Metrics]:
    metrics = Metrics.connect(settings=_settings(emulator.endpoint, dataset))
    metrics.store.init_db()
    yield metrics
    metrics.close()


def _rows(emulator: bigquery_emulator.Emulator, sql: str) -> list[tuple[object, ...]]:
    client = emulator.client()
    try:
        return [tuple(row.values()) for row in client.query(sql).result()]
    finally:
        client.close()


def _tables(emulator: bigquery_emulator.Emulator, dataset: str) -> set[str]:
    client = emulator.client()
    try:
        return {table.table_id for table in client.list_tables(f"{PROJECT}.{dataset}")}
    finally:
        client.close()


def _conversation(id: str, **changes: object) -> dict[str, object]:
    row = {"id": id, "tenant_id": TENANT, "outlet_id": None, "customer_phone": "+62", "status": "active",
           "started_at": dt.datetime(2025, 11, 1, 9, tzinfo=dt.UTC), "ended_at": None, "last_message_at": None}
    return {**row, **changes}


# -- configuration: what is wrong is said at start-up ---------------------------------------


@pytest.mark.parametrize(
    ("url", "env", "expected"),
    [
        ("bigquery://my-project/crm_analytics", {}, ("my-project", "crm_analytics")),
        ("bigquery://", {"BIGQUERY_PROJECT_ID": "my-project", "BIGQUERY_DATASET": "crm_analytics"}, ("my-project", "crm_analytics")),
        ("bigquery://my-project", {"BIGQUERY_DATASET": "crm_analytics"}, ("my-project", "crm_analytics")),
        ("bigquery://my-project/crm_analytics", {"BIGQUERY_PROJECT_ID": "my-project"}, ("my-project", "crm_analytics")),
        ("bigquery://example.com:my-project/crm_analytics", {}, ("example.com:my-project", "crm_analytics")),
    ],
)
def test_project_and_dataset_come_from_the_url_or_the_seed_variables(url: str, env: dict[str, str], expected: tuple[str, str]) -> None:
    settings = Settings.from_env({"DATABASE_URL": url, **env})
    assert bigquery_target(settings.database_url, settings) == expected


def test_the_seed_variables_alone_select_bigquery() -> None:
    settings = Settings.from_env({"BIGQUERY_PROJECT_ID": "my-project", "BIGQUERY_DATASET": "crm_analytics"})
    assert settings.database_url == "bigquery://"
    assert bigquery_target(settings.database_url, settings) == ("my-project", "crm_analytics")


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"DATABASE_URL": "bigquery://my-project/crm_analytics", "BIGQUERY_PROJECT_ID": "other"}, "project 'my-project' but BIGQUERY_PROJECT_ID is 'other'"),
        ({"DATABASE_URL": "bigquery://my-project/crm_analytics", "BIGQUERY_DATASET": "other"}, "dataset 'crm_analytics' but BIGQUERY_DATASET is 'other'"),
        ({"DATABASE_URL": "bigquery://", "BIGQUERY_DATASET": "crm_analytics"}, "No BigQuery project"),
        ({"DATABASE_URL": "bigquery://my-project"}, "No BigQuery dataset"),
        ({"DATABASE_URL": "bigquery://My_Project/crm_analytics"}, "project 'My_Project' (DATABASE_URL or BIGQUERY_PROJECT_ID) is not a valid"),
        ({"DATABASE_URL": "bigquery://my-project/crm-analytics"}, "dataset 'crm-analytics' (DATABASE_URL or BIGQUERY_DATASET) is not a valid"),
        ({"DATABASE_URL": "bigquery://me@my-project/crm_analytics"}, "must look like bigquery://PROJECT/DATASET"),
        ({"DATABASE_URL": "bigquery://my-project/crm_analytics/extra"}, "must look like bigquery://PROJECT/DATASET"),
        ({"DATABASE_URL": "duckdb:///:memory:", "BIGQUERY_PROJECT_ID": "my-project"}, "BIGQUERY_PROJECT_ID/BIGQUERY_DATASET are set but DATABASE_URL is duckdb"),
    ],
)
def test_a_wrong_project_or_dataset_setting_fails_at_start_saying_which(env: dict[str, str], says: str) -> None:
    with pytest.raises(ConfigError) as failure:
        Metrics.connect(settings=Settings.from_env(env))
    assert says in str(failure.value)


def test_a_credentials_path_that_does_not_exist_fails_at_start(tmp_path: pytest.TempPathFactory) -> None:
    path = f"{tmp_path}/missing.json"
    settings = Settings.from_env({"DATABASE_URL": "bigquery://my-project/crm_analytics", "GOOGLE_APPLICATION_CREDENTIALS": path})
    with pytest.raises(ConfigError) as failure:
        Metrics.connect(settings=settings)
    assert str(failure.value) == f"GOOGLE_APPLICATION_CREDENTIALS is {path!r}: no such file"


@pytest.mark.parametrize("content", ["not json", '{"type": "service_account"}', '{"type": "no_such_type"}'])
def test_a_credentials_file_that_holds_no_credentials_fails_at_start(tmp_path: pytest.TempPathFactory, content: str) -> None:
    path = tmp_path / "credentials.json"
    path.write_text(content)
    # Even with an emulator's endpoint, which is then reached anonymously: the setting is wrong.
    settings = Settings(database_url="bigquery://my-project/crm_analytics", google_application_credentials=str(path), bigquery_api_endpoint="http://127.0.0.1:9")
    with pytest.raises(ConfigError, match=f"GOOGLE_APPLICATION_CREDENTIALS file '{path}' holds no usable Google credentials"):
        Metrics.connect(settings=settings)


def test_no_credentials_at_all_fails_at_start(monkeypatch: pytest.MonkeyPatch, tmp_path: pytest.TempPathFactory) -> None:
    # Nowhere to find Application Default Credentials: no variable, no gcloud configuration,
    # and (NO_GCE_CHECK) no probing of a cloud metadata server.
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NO_GCE_CHECK", "true")
    with pytest.raises(ConfigError, match="No Google credentials for BigQuery: set GOOGLE_APPLICATION_CREDENTIALS"):
        Metrics.connect(settings=Settings(database_url="bigquery://my-project/crm_analytics"))


def test_a_dataset_that_does_not_exist_fails_at_start(emulator: bigquery_emulator.Emulator) -> None:
    with pytest.raises(ConfigError) as failure:
        Metrics.connect(settings=_settings(emulator.endpoint, "no_such_dataset"))
    assert str(failure.value).startswith(
        f"BigQuery dataset 'no_such_dataset' (DATABASE_URL or BIGQUERY_DATASET) does not exist in project '{PROJECT}'"
    )


def test_a_project_bigquery_does_not_know_fails_at_start() -> None:
    # The emulator serves any project; BigQuery answers 404 (or 403) for the dataset and for
    # the project's dataset list alike.
    fake = FakeBigQuery({})
    try:
        with pytest.raises(ConfigError) as failure:
            Metrics.connect(settings=Settings(database_url="bigquery://no-such-project/crm_analytics", bigquery_api_endpoint=fake.endpoint))
    finally:
        fake.close()
    assert str(failure.value).startswith(
        "BigQuery project 'no-such-project' (DATABASE_URL or BIGQUERY_PROJECT_ID) does not exist or these credentials cannot use it"
    )


def test_bigquery_out_of_reach_at_start_is_unavailable_within_the_connect_timeout() -> None:
    closed = bigquery_emulator.free_port()
    started = dt.datetime.now()
    with pytest.raises(BackendUnavailable, match="cannot reach BigQuery"):
        BigQueryExecutor(PROJECT, "crm_analytics", api_endpoint=f"http://127.0.0.1:{closed}", connect_timeout=1)
    assert dt.datetime.now() - started < dt.timedelta(seconds=5)


# -- queries ---------------------------------------------------------------------------------


def test_parameters_travel_typed_and_values_come_back_as_python_types(emulator: bigquery_emulator.Emulator, dataset: str, proxy: Proxy) -> None:
    params = tuple(Field(name, sql_type, "") for name, sql_type in
                   [("s", "STRING"), ("d", "DATE"), ("t", "TIMESTAMP"), ("i", "INT64"), ("f", "FLOAT64")])
    query = CompiledQuery("adhoc", "bigquery", "SELECT @s AS s, @d AS d, @t AS t, @i AS i, @f AS f", params, params,
                          sqlglot.parse_one("SELECT 1"))
    values = {"s": "it's'; DROP TABLE messages --", "d": dt.date(2025, 11, 1),
              "t": dt.datetime(2025, 11, 1, 23, 59, 59, 999_999, tzinfo=dt.UTC), "i": 2**53 + 1, "f": 0.1}
    executor = BigQueryExecutor(PROJECT, dataset, api_endpoint=proxy.endpoint)
    try:
        assert executor.fetch(query, values) == [tuple(values.values())]
    finally:
        executor.close()
    (job,) = proxy.jobs()
    sent = job["configuration"]["query"]
    assert sent["query"] == query.sql
    assert [(p["name"], p["parameterType"]["type"]) for p in sent["queryParameters"]] == [(p.name, p.type) for p in params]


def test_every_job_carries_the_cost_controls_labels_and_typed_parameters(emulator: bigquery_emulator.Emulator, dataset: str, proxy: Proxy) -> None:
    # The emulator keeps none of these on its jobs: they are read off the requests sent.
    settings = _settings(proxy.endpoint, dataset, bigquery_maximum_bytes_billed=12_345, query_timeout_seconds=7.0)
    with Metrics.connect(settings=settings) as metrics:
        metrics.store.init_db()
        metrics.dashboard(TENANT, "2025-11-01", "2025-11-03", granularity="week")
    jobs = [job for job in proxy.jobs() if "metric" in job["configuration"].get("labels", {})]
    assert sorted(job["configuration"]["labels"]["metric"] for job in jobs) == ["dashboard", "tenant"]
    for job in jobs:
        configuration = job["configuration"]
        name = configuration["labels"]["metric"]
        compiled = compile_sql("dashboard" if name == "dashboard" else "lookup/tenant", "bigquery", Shape(granularity="week") if name == "dashboard" else None)
        assert configuration["labels"] == {"app": "crm-metrics", "metric": name, "tenant": TENANT}
        assert configuration["jobTimeoutMs"] == "7000"
        query = configuration["query"]
        assert query["maximumBytesBilled"] == "12345"
        assert query["defaultDataset"] == {"projectId": PROJECT, "datasetId": dataset}
        assert query["useLegacySql"] is False
        assert query["query"] == compiled.sql
        assert [(p["name"], p["parameterType"]["type"]) for p in query["queryParameters"]] == [(p.name, p.type) for p in compiled.params]
        for parameter in query["queryParameters"]:
            assert str(parameter["parameterValue"]["value"]) not in query["query"]


def test_a_dry_run_asks_bigquery_and_runs_nothing(emulator: bigquery_emulator.Emulator, dataset: str, proxy: Proxy) -> None:
    with Metrics.connect(settings=_settings(proxy.endpoint, dataset)) as metrics:
        metrics.store.init_db()
        # The emulator estimates 0 bytes for anything; BigQuery says what the query would scan.
        assert metrics.dry_run("summary", request.query(TENANT, "2025-11-01", "2025-11-30", tz="UTC")) == 0
    (job,) = [job for job in proxy.jobs() if job["configuration"].get("labels", {}).get("metric") == "summary"]
    assert job["configuration"]["dryRun"] is True
    assert job["configuration"]["query"]["useQueryCache"] is False
    assert job["configuration"]["query"]["query"] == compile_sql("summary", "bigquery").sql


def test_a_dry_run_elsewhere_says_it_is_bigquery_only() -> None:
    with Metrics.connect("duckdb:///:memory:", settings=Settings(database_url="duckdb:///:memory:")) as metrics:
        with pytest.raises(ConfigError, match="dry runs are BigQuery-only; this database is duckdb:///:memory:"):
            metrics.dry_run("summary", request.query(TENANT))


@pytest.mark.parametrize("job_failure", ["from getQueryResults", "in the job's errorResult"])
def test_a_query_over_the_cost_limit_is_cost_limit_exceeded(job_failure: str) -> None:
    # The emulator does not enforce maximum_bytes_billed; BigQuery stops such a job before it
    # runs and reports reason bytesBilledLimitExceeded, in one of two places.
    message = "Query exceeded limit for bytes billed: 1000. 10485760 or higher required."
    reference = {"projectId": "my-project", "jobId": "job-1", "location": "EU"}
    failed = {"state": "DONE", "errorResult": {"reason": "bytesBilledLimitExceeded", "message": message}}
    fake = FakeBigQuery({
        ("GET", r"/datasets/crm_analytics\?"): (200, {"datasetReference": {"projectId": "my-project", "datasetId": "crm_analytics"}, "location": "EU"}),
        ("POST", r"/projects/my-project/jobs\?"): (200, {"jobReference": reference, "configuration": {"query": {}},
                                                          "status": failed if job_failure == "in the job's errorResult" else {"state": "RUNNING"}}),
        ("GET", r"/projects/my-project/queries/job-1\?"): (400, error(400, "bytesBilledLimitExceeded", message)),
        ("GET", r"/projects/my-project/jobs/job-1\?"): (200, {"jobReference": reference, "status": failed}),
    })
    executor = BigQueryExecutor("my-project", "crm_analytics", api_endpoint=fake.endpoint, maximum_bytes_billed=1000, timeout=5, connect_timeout=1)
    try:
        with pytest.raises(CostLimitExceeded, match=r"tenant would bill more than BIGQUERY_MAXIMUM_BYTES_BILLED=1,000 bytes"):
            executor.fetch(compile_sql("lookup/tenant", "bigquery"), {"tenant_id": TENANT})
    finally:
        executor.close()
        fake.close()


def test_a_query_past_the_timeout_is_cancelled() -> None:
    # The emulator runs a job to the end inside jobs.insert, so it never runs late; this
    # BigQuery keeps the job running.
    reference = {"projectId": "my-project", "jobId": "job-1", "location": "EU"}
    running = {"jobReference": reference, "configuration": {"query": {}}, "status": {"state": "RUNNING"}}
    fake = FakeBigQuery({
        ("GET", r"/datasets/crm_analytics\?"): (200, {"datasetReference": {"projectId": "my-project", "datasetId": "crm_analytics"}, "location": "EU"}),
        ("POST", r"/projects/my-project/jobs\?"): (200, running),
        ("GET", r"/projects/my-project/jobs/job-1\?"): (200, running),
        ("GET", r"/projects/my-project/queries/job-1\?"): (200, {"jobReference": reference, "jobComplete": False}),
        ("POST", r"/projects/my-project/jobs/job-1/cancel\?"): (200, {"job": running}),
    })
    executor = BigQueryExecutor("my-project", "crm_analytics", api_endpoint=fake.endpoint, timeout=1, connect_timeout=1)
    try:
        with pytest.raises(QueryTimeout, match="tenant ran longer than 1 s"):
            executor.fetch(compile_sql("lookup/tenant", "bigquery"), {"tenant_id": TENANT})
    finally:
        executor.close()
        fake.close()
    assert any(method == "POST" and "/jobs/job-1/cancel" in path for method, path in fake.requests)


def test_threads_share_one_executor(emulator: bigquery_emulator.Emulator, dataset: str) -> None:
    with Metrics.connect(settings=_settings(emulator.endpoint, dataset)) as metrics:
        metrics.store.init_db()
        metrics.store.load_rows("conversations", [_conversation(f"c{i}", status=("active", "resolved")[i % 2]) for i in range(5)])
        expected = metrics.summary(TENANT, "2025-11-01", "2025-11-01").to_dict()
        with ThreadPoolExecutor(max_workers=4) as pool:
            answers = list(pool.map(lambda _: metrics.summary(TENANT, "2025-11-01", "2025-11-01").to_dict(), range(8)))
    assert expected["total_conversations"] == 5
    assert all(answer == expected for answer in answers)


def test_missing_tables_are_unavailable_with_what_to_do(emulator: bigquery_emulator.Emulator, dataset: str) -> None:
    with Metrics.connect(settings=_settings(emulator.endpoint, dataset)) as metrics:
        with pytest.raises(BackendUnavailable, match="create the tables with `crm-metrics init-db`"):
            metrics.summary(TENANT, "2025-11-01", "2025-11-01")


@pytest.mark.parametrize(("name", "outlet", "granularity"), SHAPES)
def test_the_sql_sent_keeps_bigquery_semantics_the_emulator_cannot_check(name: str, outlet: bool, granularity: str) -> None:
    """The emulator runs BigQuery SQL on DuckDB; where the two differ, the SQL the library sends
    is checked for the BigQuery meaning instead:
    - TIMESTAMP_DIFF only in MICROSECOND: BigQuery truncates a difference to whole units while
      DuckDB (so the emulator) counts unit boundaries crossed; microseconds are exact on both.
    - weeks only as WEEK(MONDAY): a plain WEEK is a Sunday week in BigQuery (and the emulator
      mistranslates WEEK(MONDAY) itself, see tests/support/bqemulator_serve.py).
    - message order by CAST(id AS BYTES): BigQuery compares the UTF-8 bytes (the contract's C
      order); the emulator's DuckDB BLOB cast would read backslash escapes in an id.
    - only declared @parameters (BigQuery binds them by name, typed) and unqualified tables
      (the job's default dataset)."""
    query = compile_sql(name, "bigquery", Shape(outlet=outlet, granularity=granularity))
    tree = sqlglot.parse_one(query.sql, read="bigquery")
    assert {d.unit.name for d in tree.find_all(exp.TimestampDiff)} <= {"MICROSECOND"}
    for truncation in tree.find_all(exp.DateTrunc):
        unit = truncation.args["unit"]
        assert unit.name == "MONTH" or (isinstance(unit, exp.WeekStart) and unit.name == "MONDAY"), unit.sql("bigquery")
    for order in tree.find_all(exp.Order):
        ids = [o.this for o in order.expressions if isinstance(o.this, exp.Column) and o.this.name == "id"]
        assert not ids, "message ids are ordered as bytes"
    assert {c.to.sql("bigquery") for c in tree.find_all(exp.Cast) if isinstance(c.this, exp.Column) and c.this.name == "id"} <= {"BYTES"}
    assert {p.name for p in tree.find_all(exp.Parameter)} == {p.name for p in query.params}
    assert {t.name for t in tree.find_all(exp.Table) if t.args.get("db")} == set()


# -- data in ---------------------------------------------------------------------------------


def test_the_schema_partitions_and_clusters_as_the_queries_filter() -> None:
    # The emulator accepts PARTITION BY / CLUSTER BY but keeps neither: read them off the DDL.
    statements = {s.this.this.name: s for s in sqlglot.parse(schema.ddl("bigquery"), read="bigquery") if s}
    assert set(statements) == set(schema.TABLES)
    expected = {
        "conversations": ("DATE(started_at)", ["tenant_id", "outlet_id"]),
        "messages": ("DATE(`timestamp`)", ["conversation_id"]),
        "tenants": (None, None),
    }
    for table, (partition, cluster) in expected.items():
        create = statements[table]
        assert create.args.get("exists"), f"{table}: CREATE TABLE IF NOT EXISTS"
        assert [c.name for c in create.this.expressions] == [c.name for c in schema.TABLES[table]]
        found = create.find(exp.PartitionedByProperty)
        assert (found.this.sql("bigquery") if found else None) == partition
        clustered = create.find(exp.ClusterProperty)
        assert ([e.name for e in clustered.expressions] if clustered else None) == cluster


def test_init_db_creates_the_tables_once(metrics: Metrics, emulator: bigquery_emulator.Emulator, dataset: str) -> None:
    metrics.store.init_db()
    assert _tables(emulator, dataset) == set(schema.TABLES)
    assert all(metrics.executor.has_table(name) for name in schema.TABLES)
    assert not metrics.executor.has_table("no_such_table")


def test_init_db_with_the_rollup_is_refused_and_changes_nothing(metrics: Metrics, emulator: bigquery_emulator.Emulator, dataset: str) -> None:
    with pytest.raises(ConfigError, match="bigquery keeps the seed's tables only: derived tables and the rollup are made on DuckDB and PostgreSQL"):
        metrics.store.init_db(rollup=True)
    assert _tables(emulator, dataset) == set(schema.TABLES)
    assert metrics.layout == "seed"


def test_loads_update_rows_in_place_by_id_and_leave_no_staging_table(metrics: Metrics, emulator: bigquery_emulator.Emulator, dataset: str) -> None:
    metrics.store.load_rows("conversations", [_conversation("a"), _conversation("b")])
    metrics.store.load_rows("conversations", [_conversation("a", status="resolved"), _conversation("c")])
    assert _rows(emulator, f"SELECT id, status FROM {dataset}.conversations ORDER BY id") == [
        ("a", "resolved"), ("b", "active"), ("c", "active"),
    ]
    assert _tables(emulator, dataset) == set(schema.TABLES)


def test_a_file_bigquery_refuses_changes_nothing(metrics: Metrics, emulator: bigquery_emulator.Emulator, dataset: str) -> None:
    metrics.store.load_rows("conversations", [_conversation("a")])
    rows = prepare("conversations", [("row 1", _conversation("a", status="resolved")), ("row 2", _conversation("b"))]).rows
    # A NULL in a NOT NULL column, which the loader itself would have refused.
    rows = rows.set_column(rows.column_names.index("customer_phone"), "customer_phone", pa.array(["+62", None], pa.string()))
    with pytest.raises(LoadError, match="BigQuery refused the rows for conversations"):
        metrics.executor.upsert_rows("conversations", rows)
    assert _rows(emulator, f"SELECT id, status FROM {dataset}.conversations") == [("a", "active")]
    assert _tables(emulator, dataset) == set(schema.TABLES)


def test_json_metadata_is_parsed_into_a_json_column(emulator: bigquery_emulator.Emulator, dataset: str, proxy: Proxy) -> None:
    # The emulator reports a JSON column made by DDL as STRING (so the loader's text goes in
    # as it is); a table made through the API keeps its JSON type, and takes the path BigQuery
    # takes: PARSE_JSON in the MERGE.
    from google.cloud import bigquery

    client = emulator.client()
    for table in ("conversations", "messages"):
        columns = [bigquery.SchemaField(c.name, c.type) for c in schema.TABLES[table]]
        client.create_table(bigquery.Table(f"{PROJECT}.{dataset}.{table}", schema=columns))
    client.close()
    executor = BigQueryExecutor(PROJECT, dataset, api_endpoint=proxy.endpoint)
    message = {"conversation_id": "c", "sender_type": "llm", "sender_id": None, "content": "hi",
               "timestamp": dt.datetime(2025, 11, 1, tzinfo=dt.UTC)}
    try:
        Metrics(executor).store.load_rows("messages", [
            {**message, "id": "m1", "metadata": {"tokens_used": 12345678901234567890, "handoff_requested": True, "trigger": "keyword"}},
            {**message, "id": "m2", "metadata": '"just a string"'},
            {**message, "id": "m3", "metadata": None},
        ])
    finally:
        executor.close()
    merge = next(job["configuration"]["query"]["query"] for job in proxy.jobs() if job["configuration"].get("labels", {}).get("load"))
    assert "PARSE_JSON(`metadata`, wide_number_mode => 'round') AS `metadata`" in merge
    assert _rows(emulator, f"SELECT id, JSON_VALUE(metadata, '$.handoff_requested'), JSON_VALUE(metadata, '$.trigger') FROM {dataset}.messages ORDER BY id") == [
        ("m1", "true", "keyword"), ("m2", None, None), ("m3", None, None),
    ]


def test_read_only_serves_but_refuses_writes(metrics: Metrics, emulator: bigquery_emulator.Emulator, dataset: str) -> None:
    with Metrics.connect(settings=_settings(emulator.endpoint, dataset), read_only=True) as reader:
        assert reader.summary(TENANT, "2025-11-01", "2025-11-01").total_conversations == 0
        with pytest.raises(ConfigError, match="opened read-only"):
            reader.store.init_db()
        with pytest.raises(ConfigError, match="opened read-only"):
            reader.store.load_rows("conversations", [_conversation("a")])


# -- /health ---------------------------------------------------------------------------------


def test_health_reports_configured_then_unreachable(metrics: Metrics, dataset: str, proxy: Proxy) -> None:
    executor = BigQueryExecutor(PROJECT, dataset, api_endpoint=proxy.endpoint, timeout=2, connect_timeout=1)
    through_proxy = Metrics(executor, _settings(proxy.endpoint, dataset))
    assert through_proxy.health() == {"database": "connected", "bigquery": "configured"}
    proxy.close()
    assert through_proxy.health()["bigquery"] == "unreachable"
    with pytest.raises(BackendUnavailable):
        through_proxy.summary(TENANT, "2025-11-01", "2025-11-01")
    through_proxy.close()


def test_health_reports_not_configured_on_other_engines() -> None:
    with Metrics.connect("duckdb:///:memory:", settings=Settings(database_url="duckdb:///:memory:")) as metrics:
        assert metrics.health() == {"database": "connected", "bigquery": "not_configured"}


def test_upper_case_ids_written_by_other_clients_answer(metrics: Metrics, emulator: bigquery_emulator.Emulator, dataset: str) -> None:
    # The CRM's pipeline syncs rows into BigQuery itself, ids in whatever case it has them.
    outlet = "0b1e7000-0000-4000-8000-00000000000a"
    metrics.store.load_rows("conversations", [_conversation("a", outlet_id=outlet), _conversation("b")])
    expected = (metrics.summary(TENANT, "2025-11-01", "2025-11-01", tz="UTC"), metrics.summary(TENANT, "2025-11-01", "2025-11-01", outlet_id=outlet, tz="UTC"))
    _rows(emulator, f"UPDATE {dataset}.conversations SET tenant_id = UPPER(tenant_id), outlet_id = UPPER(outlet_id) WHERE TRUE")
    assert _rows(emulator, f"SELECT DISTINCT tenant_id FROM {dataset}.conversations") == [(TENANT.upper(),)]
    got = (metrics.summary(TENANT, "2025-11-01", "2025-11-01", tz="UTC"), metrics.summary(TENANT, "2025-11-01", "2025-11-01", outlet_id=outlet.upper(), tz="UTC"))
    assert got == expected and expected[0].total_conversations == 2 and expected[1].total_conversations == 1
