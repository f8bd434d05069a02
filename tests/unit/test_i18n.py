"""The translation layer (facmon.core.i18n) and its catalogs.

The catalog tests read what a translator reads: the .po files, and the messages Babel extracts from the code with
babel.cfg (what `make locale` does). They fail when a message in the code is missing from a catalog, untranslated or
fuzzy in zh_CN, when a translation loses or invents a {placeholder}, and when a committed .mo is older than its .po.
"""

from __future__ import annotations

import gettext
import io
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from facmon.core import i18n

REPO = Path(__file__).resolve().parents[2]
LOCALE = REPO / "facmon" / "resources" / "locale"
PACKAGES = ("facmon", "sensors", "ingest", "analytics", "dashboards")  # as the Makefile's BABEL_PACKAGES
PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)(?:[:!][^{}]*)?\}")


def _extracted() -> set[str]:
    with (REPO / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = set()
    for package in PACKAGES:
        for _filename, _line, message, _comments, _context in extract_from_dir(
                REPO / package, method_map, options_map):
            found.add(message if isinstance(message, str) else message[0])
    return found


def _catalog(language: str):
    with (LOCALE / language / "LC_MESSAGES" / "facmon.po").open("rb") as po:
        return read_po(po, locale=language)


def _ids(message) -> list[str]:
    return [message.id] if isinstance(message.id, str) else list(message.id)


def _strings(message) -> list[str]:
    return [message.string] if isinstance(message.string, str) else list(message.string)


@pytest.fixture(scope="module")
def extracted() -> set[str]:
    return _extracted()


def test_the_code_has_messages_to_translate(extracted: set[str]) -> None:
    assert "facmon: invalid setting {name}: {problem}" in extracted


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_message_of_the_code_is_in_the_catalog(language: str, extracted: set[str]) -> None:
    catalog = _catalog(language)
    missing = sorted(extracted - {_ids(m)[0] for m in catalog if m.id})
    assert not missing, f"run `make locale`, then translate: {missing}"


def test_every_message_is_translated_in_chinese() -> None:
    untranslated = [_ids(m)[0] for m in _catalog(i18n.CHINESE) if m.id and (m.fuzzy or not all(_strings(m)))]
    assert not untranslated, untranslated


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_translations_keep_every_placeholder(language: str) -> None:
    wrong = []
    for message in _catalog(language):
        if not message.id:
            continue
        wanted = set(PLACEHOLDER.findall(_ids(message)[0])) | set(PLACEHOLDER.findall(_ids(message)[-1]))
        for string in _strings(message):
            if string and set(PLACEHOLDER.findall(string)) != wanted:
                wrong.append(f"{_ids(message)[0]!r} -> {string!r}")
    assert not wrong, wrong


def test_the_placeholder_check_catches_a_lost_or_renamed_placeholder() -> None:
    assert set(PLACEHOLDER.findall("no use on {idle} of {days} open days ({share:.0%})")) == {"idle", "days", "share"}
    assert set(PLACEHOLDER.findall("{idle} 天无人使用")) != {"idle", "days"}
    assert not PLACEHOLDER.findall("a literal {{brace}}")


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_the_shipped_mo_is_compiled_from_the_po(language: str) -> None:
    compiled = io.BytesIO()
    write_mo(compiled, _catalog(language))
    compiled.seek(0)
    fresh = gettext.GNUTranslations(compiled)
    with (LOCALE / language / "LC_MESSAGES" / "facmon.mo").open("rb") as mo:
        shipped = gettext.GNUTranslations(mo)
    assert shipped._catalog == fresh._catalog, "run `make locale-compile`"  # type: ignore[attr-defined]


# -- which language ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "language"), [
    ("zh_CN.UTF-8", "zh_CN"), ("zh_CN", "zh_CN"), ("zh", "zh_CN"), ("zh-Hans-CN", "zh_CN"), ("zh_SG.utf8", "zh_CN"),
    ("en_US.UTF-8", "en"), ("en", "en"), ("EN_gb", "en"),
    ("zh_TW.UTF-8", None), ("zh_Hant", None), ("fr_FR.UTF-8", None), ("C", None), ("C.UTF-8", None), ("", None),
])
def test_locale_names_map_to_the_languages_facmon_speaks(name: str, language: str | None) -> None:
    assert i18n.normalize(name) == language


@pytest.mark.parametrize(("environ", "language"), [
    ({}, "en"),
    ({"LANG": "zh_CN.UTF-8"}, "zh_CN"),
    ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "zh_CN.UTF-8"}, "zh_CN"),
    ({"LANG": "zh_CN.UTF-8", "LC_MESSAGES": "en_US.UTF-8"}, "en"),
    ({"LC_MESSAGES": "zh_CN.UTF-8", "LC_ALL": "en_US.UTF-8"}, "en"),
    ({"LANG": "en_US.UTF-8", "LANGUAGE": "fr:zh_CN:en"}, "zh_CN"),  # the first preference facmon speaks
    ({"LANG": "C", "LANGUAGE": "zh_CN"}, "en"),  # GNU gettext: LANGUAGE does not count in the C locale
    ({"LANGUAGE": "zh_CN"}, "en"),  # nor with no locale at all, which is C
    ({"LANG": "fr_FR.UTF-8"}, "en"),
])
def test_without_a_setting_the_language_follows_the_locale_as_gettext_does(environ: dict[str, str],
                                                                           language: str) -> None:
    assert i18n.choose(None, environ) == language


def test_the_setting_wins_over_the_locale() -> None:
    assert i18n.choose("en", {"LANG": "zh_CN.UTF-8"}) == "en"
    assert i18n.choose("zh_CN.UTF-8", {"LANG": "en_US.UTF-8"}) == "zh_CN"
    with pytest.raises(i18n.LanguageError, match="en, zh_CN"):
        i18n.choose("fr", {})


def test_using_switches_the_language_for_a_block_only() -> None:
    message = "facmon: invalid setting {name}: {problem}"
    assert i18n.current() == "en"
    assert i18n._(message) == message
    with i18n.using("zh_CN"):
        assert i18n._(message) == "facmon：设置 {name} 无效：{problem}"
        with i18n.using("en"):
            assert i18n._(message) == message
        assert i18n.current() == "zh_CN"
    assert i18n.current() == "en"


@pytest.mark.parametrize(("language", "number", "decimal", "percent", "day"), [
    ("en", "64,509", "47.8", "5%", "Nov 28, 2026"),
    ("zh_CN", "64,509", "47.8", "5%", "2026年11月28日"),
])
def test_numbers_percentages_and_dates_as_each_language_writes_them(language: str, number: str, decimal: str,
                                                                    percent: str, day: str) -> None:
    with i18n.using(language):
        assert i18n.format_number(64509) == number
        assert i18n.format_number(47.8125, digits=1) == decimal
        assert i18n.format_percent(0.0512) == percent
        assert i18n.format_percent(0.96) == "96%"
        assert i18n.format_date(date(2026, 11, 28)) == day


# -- the command line ------------------------------------------------------------------------------------------
def _facmon(*args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", **environ}
    return subprocess.run([sys.executable, "-m", "facmon", *args], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=60, check=False)


def test_a_bad_facmon_language_is_refused_in_the_locales_language() -> None:
    result = _facmon("schema", FACMON_LANGUAGE="klingon", LANG="zh_CN.UTF-8")
    assert result.returncode == 2
    assert result.stderr.startswith("facmon：设置 FACMON_LANGUAGE 无效："), result.stderr
    english = _facmon("schema", FACMON_LANGUAGE="klingon", LANG="en_US.UTF-8")
    assert english.stderr.startswith("facmon: invalid setting FACMON_LANGUAGE: must be one of en, zh_CN")


def test_lang_is_accepted_before_and_after_the_command() -> None:
    for args in (("--lang", "zh_CN", "schema"), ("schema", "--lang=zh_CN"),
                 ("registry", "check", "--lang=en", "--help")):
        assert _facmon(*args).returncode == 0, args
    refused = _facmon("schema", "--lang=fr")
    assert refused.returncode == 2
    assert "must be one of en, zh_CN" in refused.stderr


def test_the_command_line_speaks_the_locales_language() -> None:
    check = ("registry", "check", "examples/registry.yaml")
    assert _facmon(*check, LANG="zh_CN.UTF-8").stdout.startswith("examples/registry.yaml：")
    assert "个设施，类型：" in _facmon(*check, LANG="zh_CN.UTF-8").stdout
    assert " facilities, types: " in _facmon(*check, LANG="zh_CN.UTF-8", FACMON_LANGUAGE="en").stdout
    assert " facilities, types: " in _facmon(*check, "--lang=en", LANG="zh_CN.UTF-8").stdout
    assert " facilities, types: " in _facmon(*check).stdout  # no locale at all: English


def test_help_imports_neither_pandas_nor_babel() -> None:
    code = ("import sys\nfrom facmon.cli.main import main\ntry:\n    main(['--lang=zh_CN', '--help'])\n"
            "except SystemExit:\n    pass\nprint(sorted(m for m in ('pandas', 'babel', 'babel.numbers') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
