"""The translation layer: every sentence a person reads goes through here; codes (statuses, detectors, JSON keys,
refusal reasons) never do.

Messages live in standard gettext catalogs, facmon/resources/locale/<lang>/LC_MESSAGES/facmon.po, compiled to .mo
beside them and shipped as package data (docs/translations.md: how to extract, update and compile them with
Babel's `pybabel`, `make locale`). Loading a compiled catalog is the standard library's gettext; Babel is imported
only to format numbers, percentages and dates the way the language writes them, and only when one is formatted,
so `facmon --help` loads neither Babel's locale data nor pandas.

Which language: one setting, FACMON_LANGUAGE or `--lang`; without one, the locale, as gettext programs read it
(LANGUAGE, then LC_ALL, LC_MESSAGES, LANG: `LANG=zh_CN.UTF-8` gives Chinese); English otherwise. The process's
language is set once at start (set_language); `using(lang)` switches it for a block, e.g. one recipient's alert.

Messages are written with named `{placeholders}` filled by str.format, so a translation may reorder them; module
constants are marked with N_ and translated where they are shown.
"""

from __future__ import annotations

import contextlib
import contextvars
import gettext as _gettext
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from functools import cache
from importlib import resources

DOMAIN = "facmon"
ENGLISH = "en"
CHINESE = "zh_CN"
#: The languages facmon speaks, the first the one without a catalog entry (the messages are written in it).
LANGUAGES = (ENGLISH, CHINESE)
#: The environment variables a gettext program reads for its language, in the order it reads them.
LOCALE_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")
#: What Babel's CLDR data calls each language (numbers, percentages, dates).
_CLDR = {ENGLISH: "en", CHINESE: "zh_Hans_CN"}

_process_language = ENGLISH
_block_language: contextvars.ContextVar[str | None] = contextvars.ContextVar("facmon_language", default=None)


class LanguageError(ValueError):
    """A language facmon has no catalog for."""


def normalize(value: str) -> str | None:
    """The facmon language a locale name means (`zh`, `zh_CN`, `zh-Hans-CN`, `zh_CN.UTF-8` -> zh_CN;
    `en_US.UTF-8` -> en), or None for one facmon does not speak (and for C and POSIX: no language)."""
    name = value.strip().split(".", 1)[0].split("@", 1)[0].replace("-", "_")
    parts = [part.lower() for part in name.split("_") if part]
    if not parts:
        return None
    if parts[0] == "en":
        return ENGLISH
    # Simplified Chinese: zh, zh_CN, zh_SG, zh_Hans...; Traditional (zh_TW, zh_HK, zh_Hant) is not what we write.
    if parts[0] == "zh" and not {"tw", "hk", "mo", "hant"} & set(parts[1:]):
        return CHINESE
    return None


def parse_language(value: str) -> str:
    """A language setting (FACMON_LANGUAGE, --lang): one facmon speaks, or LanguageError naming those it does."""
    language = normalize(value)
    if language is None:
        raise LanguageError(_("must be one of {languages} (or a locale name such as zh_CN.UTF-8)").format(
            languages=", ".join(LANGUAGES)))
    return language


def from_locale(environ: Mapping[str, str]) -> str:
    """The language of the locale variables, as GNU gettext reads them: the locale is the first of LC_ALL,
    LC_MESSAGES, LANG that is set; LANGUAGE, a list of preferences (the first facmon speaks wins), counts only when
    that locale is not C (unset is C); else the locale decides; English when nothing names a language facmon
    speaks."""
    locale = next((environ[name] for name in LOCALE_VARIABLES[1:] if environ.get(name)), "C")
    if locale.split(".", 1)[0] not in ("C", "POSIX"):
        for preference in environ.get("LANGUAGE", "").split(":"):
            language = normalize(preference)
            if language is not None:
                return language
    return normalize(locale) or ENGLISH


def choose(setting: str | None, environ: Mapping[str, str]) -> str:
    """The language to speak: the setting when there is one (already checked), else the locale's."""
    return parse_language(setting) if setting else from_locale(environ)


def set_language(language: str) -> None:
    """The process's language, set once at start from the settings."""
    global _process_language
    _process_language = parse_language(language)


def current() -> str:
    """The language now spoken: a `using` block's, else the process's."""
    return _block_language.get() or _process_language


@contextlib.contextmanager
def using(language: str | None) -> Iterator[str]:
    """Speak `language` inside the block (None: the process's language), e.g. for one recipient's message."""
    token = _block_language.set(parse_language(language) if language else None)
    try:
        yield current()
    finally:
        _block_language.reset(token)


@cache
def catalog(language: str) -> _gettext.NullTranslations:
    """The compiled catalog of `language` from the package data; English falls back to the message itself."""
    path = resources.files("facmon.resources").joinpath("locale", language, "LC_MESSAGES", f"{DOMAIN}.mo")
    try:
        with path.open("rb") as mo:
            return _gettext.GNUTranslations(mo)
    except FileNotFoundError:
        if language == ENGLISH:
            return _gettext.NullTranslations()
        raise


def _(message: str) -> str:
    """`message` in the current language."""
    return catalog(current()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for `n`, in the current language (Chinese has one form)."""
    return catalog(current()).ngettext(singular, plural, n)


def labelled(label: str, value: object) -> str:
    """``label: value`` as the language writes it: an ASCII colon and a space in English, the full-width colon in
    Chinese (``数据覆盖率：90%``); the separator is the catalog's, not a branch on the language."""
    return _("{label}: {value}").format(label=label, value=value)


def N_(message: str) -> str:  # noqa: N802 (gettext's name for "mark for extraction, translate later")
    """Mark a constant for extraction; `_()` translates it where it is shown."""
    return message


# -- numbers, percentages and dates as the language writes them (Babel's CLDR data, loaded on first use) ---------
def format_number(value: float, digits: int = 0) -> str:
    """`64,509` in both languages; `47.8` with digits=1."""
    from babel.numbers import format_decimal

    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return str(format_decimal(value, format=pattern, locale=_CLDR[current()]))


def format_percent(share: float, digits: int = 0) -> str:
    """A share (0.05) as the language writes a percentage: `5%`."""
    from babel.numbers import format_percent as babel_percent

    pattern = "#,##0" + ("." + "0" * digits if digits else "") + "%"
    return str(babel_percent(share, format=pattern, locale=_CLDR[current()]))


def format_date(day: date | datetime, style: str = "medium") -> str:
    """`Nov 28, 2026` / `2026年11月28日` (style `medium`); `long`, `short` or `full` as in CLDR."""
    from babel.dates import format_date as babel_date

    return str(babel_date(day, format=style, locale=_CLDR[current()]))
