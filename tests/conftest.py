from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from tests.support import bigquery_emulator
from tests.support.engines import ENGINES

#: The example budgets of the property tests: `default` for every property, `engine-<name>`
#: for an engine that runs fewer (tests/support/properties.py applies them per engine).
settings.register_profile(
    "default",
    max_examples=int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", "15")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=os.environ.get("CI", "").lower() == "true",
)
for _name, _engine in ENGINES.items():
    if _engine.max_examples:
        settings.register_profile(
            f"engine-{_name}",
            parent=settings.get_profile("default"),
            max_examples=min(_engine.max_examples, settings.get_profile("default").max_examples),
        )
settings.load_profile("default")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--snapshot-update",
        action="store_true",
        default=False,
        help="rewrite the compiled-SQL snapshots under tests/snapshots/ instead of comparing",
    )


def pytest_sessionfinish(session: pytest.Session) -> None:
    bigquery_emulator.stop_shared()
