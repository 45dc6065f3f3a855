"""The price tables as SQL reads them (crm_metrics/prices.py): the markets' byte-order ranges
and the rows' ends of validity, against their plain definitions."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from crm_metrics.prices import ANY, NO_END, NO_HIGH, LLMPrice, PriceTables, WhatsAppPrice, market_ranges

prefixes = st.sets(st.one_of(st.just(ANY), st.text("0123456789", min_size=1, max_size=4)), max_size=8)
# Numbers as the CRM may store them: digits mostly, anything else too (the ranges hold for any text).
numbers = st.one_of(st.text("0123456789", max_size=6), st.text(max_size=6))


def longest(number: str, table: set[str]) -> str | None:
    found = max((p for p in table - {ANY} if number.startswith(p)), key=len, default=None)
    return found if found is not None else (ANY if ANY in table else None)


def in_ranges(number: str, table: set[str]) -> str | None:
    encoded = number.encode()
    hits = [m for low, high, m in market_ranges(table) if low.encode() <= encoded and (high == NO_HIGH or encoded < high.encode())]
    assert len(hits) <= 1, hits
    return hits[0] if hits else None


@given(prefixes, st.lists(numbers, max_size=20))
def test_a_numbers_range_is_its_longest_prefix(table: set[str], sample: list[str]) -> None:
    for number in [*sample, *table - {ANY}, *(p + "5" for p in table - {ANY}), ""]:
        assert in_ranges(number, table) == longest(number, table), (number, market_ranges(table))


def test_rows_carry_their_ranges_and_ends() -> None:
    day = dt.date(2025, 7, 1)
    tables = PriceTables(
        (
            WhatsAppPrice("1", "utility", 0.004, day),
            WhatsAppPrice("1242", "utility", 0.02, day),
            WhatsAppPrice("1", "utility", 0.005, dt.date(2025, 10, 1)),
        ),
        (LLMPrice("gpt-4o", 5.0, 15.0, dt.date(2024, 5, 13)), LLMPrice("gpt-4o", 2.5, 10.0, dt.date(2024, 10, 1)), LLMPrice(ANY, 0.15, 0.6, day)),
    )
    got = tables.parameters()
    rows = sorted(zip(got["whatsapp_lows"], got["whatsapp_highs"], got["whatsapp_markets"], got["whatsapp_prices"], got["whatsapp_valid_to"], strict=True))
    assert rows == [
        ("1", "1242", "1", 0.004, dt.date(2025, 10, 1)),
        ("1", "1242", "1", 0.005, NO_END),
        ("1242", "1243", "1242", 0.02, NO_END),
        ("1243", "2", "1", 0.004, dt.date(2025, 10, 1)),
        ("1243", "2", "1", 0.005, NO_END),
    ]
    assert got["llm_named_models"] == ["gpt-4o"]
    assert sorted(zip(got["llm_models"], got["llm_valid_to"], strict=True)) == [(ANY, NO_END), ("gpt-4o", dt.date(2024, 10, 1)), ("gpt-4o", NO_END)]
