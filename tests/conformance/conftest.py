from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.engines import ENGINES, Engine


@pytest.fixture(scope="session", params=sorted(ENGINES))
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """Every engine the conformance suite runs on (a test using it runs once per engine)."""
    instance = ENGINES[request.param]()
    instance.start()
    yield instance
    instance.stop()
