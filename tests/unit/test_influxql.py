"""InfluxQL quoting: identifiers, string literals, regex literals and time literals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from facmon.core.influxql import InfluxQLError, ident, literal, regex_literal, time_literal


@pytest.mark.parametrize(
    ("name", "quoted"),
    [
        ("reading", '"reading"'),
        ("my db", '"my db"'),
        ('we"ird', '"we\\"ird"'),
        ("back\\slash", '"back\\\\slash"'),
        ("it's", '"it\'s"'),
        ("图书馆", '"图书馆"'),
        ('"; DROP DATABASE x; "', '"\\"; DROP DATABASE x; \\""'),
    ],
)
def test_ident(name, quoted):
    assert ident(name) == quoted


@pytest.mark.parametrize("bad", ["", "a\nb", "a\rb", "a\x00b"])
def test_ident_refuses(bad):
    with pytest.raises(InfluxQLError):
        ident(bad)


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("lib", "'lib'"),
        ("", "''"),
        ("it's", "'it\\'s'"),
        ("x' OR '1'='1", "'x\\' OR \\'1\\'=\\'1'"),
        ("a'; DROP DATABASE x; '", "'a\\'; DROP DATABASE x; \\''"),
        ("back\\slash", "'back\\\\slash'"),
        ("end\\", "'end\\\\'"),
        ("\\'", "'\\\\\\''"),
        ('say "hi"', "'say \"hi\"'"),
        ("鹿城区", "'鹿城区'"),
    ],
)
def test_literal(value, quoted):
    assert literal(value) == quoted


@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\x00b", "\n"])
def test_literal_refuses_line_breaks_and_nul(bad):
    with pytest.raises(InfluxQLError):
        literal(bad)


@pytest.mark.parametrize(
    ("value", "regex"),
    [
        ("lib", "/^lib$/"),
        ("a.b", r"/^a\.b$/"),
        ("a/b", r"/^a\/b$/"),
        ("zhejiang/wenzhou", r"/^zhejiang\/wenzhou$/"),
        ("x|y", r"/^x\|y$/"),
        ("^$", r"/^\^\$$/"),
        ("*+?", r"/^\*\+\?$/"),
        ("(a)[b]{c}", r"/^\(a\)\[b\]\{c\}$/"),
        ("back\\slash", r"/^back\\slash$/"),
        ("a-b_c d", "/^a-b_c d$/"),
    ],
)
def test_regex_literal(value, regex):
    assert regex_literal(value) == regex


def test_regex_literal_prefix():
    assert regex_literal("zhejiang/wenzhou", prefix=True) == r"/^zhejiang\/wenzhou/"
    assert regex_literal("a.b", prefix=True) == r"/^a\.b/"


@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\x00"])
def test_regex_literal_refuses(bad):
    with pytest.raises(InfluxQLError):
        regex_literal(bad)


def test_time_literal():
    assert time_literal(datetime(2025, 11, 24, 16, 0, tzinfo=UTC)) == "'2025-11-24T16:00:00.000000Z'"
    shanghai = timezone(timedelta(hours=8))
    assert time_literal(datetime(2025, 11, 25, 0, 0, 1, 250, tzinfo=shanghai)) == "'2025-11-24T16:00:01.000250Z'"


def test_time_literal_refuses_naive():
    with pytest.raises(InfluxQLError, match="naive"):
        time_literal(datetime(2025, 11, 24, 16, 0))
