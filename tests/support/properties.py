"""Property tests that run on every engine, each engine with its own example budget.

The budgets are hypothesis profiles registered in tests/conftest.py: `default` (the
HYPOTHESIS_MAX_EXAMPLES setting) and `engine-<name>` for an engine that runs fewer (an engine's
`max_examples`). `@on_engines(case=cases())` turns `def test_x(engine, case)` into a test that
pytest runs once per engine fixture and that runs `@given(case=cases())` under that engine's
profile: hypothesis' documented way to choose settings when the test runs (an inner test).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis.strategies import SearchStrategy

from tests.support.engines import Engine


def profile(engine: Engine) -> settings:
    """The registered example budget of `engine`."""
    return settings.get_profile(f"engine-{engine.name}" if engine.max_examples else "default")


def on_engines(*, share: float = 1.0, **strategies: SearchStrategy[Any]) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """A property over `strategies`, with the example budget of the engines among its fixtures
    (the smallest, times `share` for a property whose examples are heavy)."""

    def decorate(check: Callable[..., None]) -> Callable[..., None]:
        signature = inspect.signature(check)
        fixtures = [p for name, p in signature.parameters.items() if name not in strategies]

        @functools.wraps(check)
        def test(**given_fixtures: Any) -> None:
            engines = [value for value in given_fixtures.values() if isinstance(value, Engine)]
            budget = min((profile(engine).max_examples for engine in engines), default=settings.default.max_examples)

            def run(**drawn: Any) -> None:
                check(**given_fixtures, **drawn)

            settings(max_examples=max(1, int(budget * share)))(given(**strategies)(run))()

        # pytest asks for the fixtures only; hypothesis draws the rest.
        test.__signature__ = signature.replace(parameters=fixtures)  # type: ignore[attr-defined]
        del test.__wrapped__  # type: ignore[attr-defined]
        return test

    return decorate
