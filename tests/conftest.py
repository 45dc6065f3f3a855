from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from tests import bigquery_emulator
from tests.engines import ENGINES, Engine

settings.register_profile(
    "default",
    max_examples=int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", "20")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=os.environ.get("CI", "").lower() == "true",
)
settings.load_profile("default")


@pytest.fixture(scope="session", params=sorted(ENGINES))
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """Every engine the conformance suite runs on (a test using it runs once per engine)."""
    instance = ENGINES[request.param]()
    instance.start()
    yield instance
    instance.stop()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--snapshot-update",
        action="store_true",
        default=False,
        help="rewrite the compiled-SQL snapshots under tests/snapshots/ instead of comparing",
    )


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Iterator[object]:
    """A property test on an engine with an example budget (`Engine.max_examples`) runs at most
    that many examples there. @given reads its settings from the test function when called (in
    `_hypothesis_internal_use_settings`: hypothesis has no public way to change them for one
    call), and the function is shared by every engine's run, so the budget is set for this call
    only."""
    engine = pyfuncitem.funcargs.get("engine")
    budget = getattr(engine, "max_examples", None)
    test = pyfuncitem.obj
    current = getattr(test, "_hypothesis_internal_use_settings", None)
    if budget is None or current is None or current.max_examples <= budget:
        return (yield)
    test._hypothesis_internal_use_settings = settings(current, max_examples=budget)
    try:
        return (yield)
    finally:
        test._hypothesis_internal_use_settings = current


def pytest_sessionfinish(session: pytest.Session) -> None:
    bigquery_emulator.stop_shared()
