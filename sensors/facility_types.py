"""What a facility type is called for people: ``cultural_hall`` is 文化礼堂 in Chinese and "Cultural hall" in English.

The code stays the machine field (tags, JSON, rules files); only what a person reads uses the display name. The
known types have built-in names in the terms county governments use; a registry may rename them or name its own
types (``types:`` at its top level, see sensors.registry), and a type without any name shows as its code, so
nothing is ever blank. Pure: the translation layer calls ``display_type`` with the run's language.
"""

from __future__ import annotations

from collections.abc import Mapping

#: The languages a display name can be given in; the first is the one used when a language has no name.
LANGUAGES = ("zh_CN", "en")

BUILT_IN: Mapping[str, Mapping[str, str]] = {
    "cultural_hall": {"zh_CN": "文化礼堂", "en": "Cultural hall"},
    "library": {"zh_CN": "图书馆", "en": "Library"},
    "sports_hall": {"zh_CN": "全民健身中心", "en": "Fitness centre"},
    "sports_ground": {"zh_CN": "体育场地", "en": "Sports ground"},
    "elderly_care": {"zh_CN": "居家养老服务中心", "en": "Elderly day-care centre"},
    "community_center": {"zh_CN": "党群服务中心", "en": "Community service centre"},
}


def language_key(language: str) -> str:
    """``zh_CN``, ``zh-CN``, ``zh_CN.UTF-8``, ``zh`` → ``zh_CN``; ``en_US`` → ``en``; others as given."""
    base = language.split(".")[0].split("@")[0].replace("-", "_")
    if base.lower().startswith("zh"):
        return "zh_CN"
    if base.lower().startswith("en"):
        return "en"
    return base


def display_type(code: str, language: str, names: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """The name of type ``code`` in ``language``: the registry's ``names`` first, then the built-in one, then the
    name in another language, then the code itself."""
    key = language_key(language)
    for table in (names or {}, BUILT_IN):
        found = table.get(code, {})
        if found.get(key):
            return found[key]
    for table in (names or {}, BUILT_IN):
        found = table.get(code, {})
        for other in LANGUAGES:
            if found.get(other):
                return found[other]
    return code
