"""Optional drivers (the postgres, bigquery and redis extras): one missing says which extra to
install, as a ConfigError (one line from the CLI), never an internal ModuleNotFoundError."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest

from crm_metrics import ConfigError, Metrics
from crm_metrics.cli import main

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
CASES = [
    (POSTGRES, "psycopg", "PostgreSQL needs the postgres extra: pip install 'crm-metrics[postgres]' (module psycopg is missing)"),
    ("postgres://127.0.0.1/test", "psycopg_pool", "PostgreSQL needs the postgres extra: pip install 'crm-metrics[postgres]' (module psycopg_pool is missing)"),
    ("bigquery://my-project/crm", "google.cloud.bigquery", "BigQuery needs the bigquery extra: pip install 'crm-metrics[bigquery]' (module google.cloud.bigquery is missing)"),
    ("bigquery://my-project/crm", "google.auth", "BigQuery needs the bigquery extra: pip install 'crm-metrics[bigquery]' (module google.auth is missing)"),
]


@pytest.fixture
def without(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Make `import name` fail as if the package were not installed (None in sys.modules), and
    forget the executors so that they import their driver again."""
    for executor in ("crm_metrics.executors.postgres", "crm_metrics.executors.bigquery"):
        monkeypatch.delitem(sys.modules, executor, raising=False)

    def block(name: str) -> None:
        monkeypatch.setitem(sys.modules, name, None)
        # `from google.cloud import bigquery` takes the package's attribute when an earlier
        # test imported the module: hide that too.
        parent, _, child = name.rpartition(".")
        if parent in sys.modules:
            monkeypatch.delattr(sys.modules[parent], child, raising=False)

    return block


@pytest.mark.parametrize(("url", "module", "message"), CASES, ids=[module for _, module, _ in CASES])
def test_a_missing_driver_names_its_extra(without: Callable[[str], None], url: str, module: str, message: str) -> None:
    without(module)
    with pytest.raises(ConfigError) as error:
        Metrics.connect(url)
    assert str(error.value) == message


@pytest.mark.parametrize(("url", "module", "message"), CASES[:1] + CASES[2:3], ids=["postgresql", "bigquery"])
def test_the_cli_says_it_in_one_line(without: Callable[[str], None], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, url: str, module: str, message: str) -> None:
    monkeypatch.delenv("CRM_METRICS_DEBUG", raising=False)
    without(module)
    assert main(["init-db", "--database-url", url]) == 2
    assert capsys.readouterr() == ("", f"crm-metrics: error: {message}\n")


def test_an_import_error_of_our_own_stays_a_bug(without: Callable[[str], None]) -> None:
    without("crm_metrics.query")
    with pytest.raises(ImportError) as error:
        Metrics.connect(POSTGRES)
    assert not isinstance(error.value, ConfigError)


def test_redis_names_its_extra(without: Callable[[str], None]) -> None:
    from server.cache import RedisStore

    without("redis")
    with pytest.raises(ConfigError, match=r"pip install 'crm-metrics\[redis\]'"):
        RedisStore("redis://127.0.0.1:6379/0", 60)
