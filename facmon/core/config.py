"""What every configuration file and setting shares: one strict base model, and one way to tell a person what is
wrong with what they wrote — every problem at once, each with its path (``facilities[2] (wz-lc-lib-001)
opening_hours.tue[1]: ...``), in words rather than pydantic's.

The YAML loader is facmon.core.yamlload; a file's own module (sensors.registry, facmon.access.rules,
analytics.analysis.rules, analytics.alerts.auditors, facmon.core.settings) validates with a StrictModel and
raises a ConfigFileError built from `problems()`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from datetime import date, time

from pydantic import BaseModel, ConfigDict, ValidationError

from facmon.core.errors import ConfigError

Loc = tuple[int | str, ...]
#: The part of a location a person recognises (``auditors[1] (wz-audit)``) and the rest of it, as a path.
Labeler = Callable[[Loc], tuple[str, Loc]]
#: The keys allowed where an unknown key was found, to suggest the one probably meant.
KeysAt = Callable[[Loc], Sequence[str]]


class StrictModel(BaseModel):
    """A value read from a file or the environment: immutable, and an unknown key is an error, not ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ConfigFileError(ConfigError, ValueError):
    """A file is unusable; ``str()`` gives one problem per line, each prefixed with the source."""

    def __init__(self, problems: str | Iterable[str], source: str | None = None) -> None:
        self.problems: tuple[str, ...] = (problems,) if isinstance(problems, str) else tuple(problems)
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__("\n".join(prefix + problem for problem in self.problems))


def show(value: object, limit: int = 60) -> str:
    """A short repr, so one huge or multi-line value cannot swamp the message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def field_path(loc: Loc) -> str:
    """``opening_hours.tue[1]`` from ``('opening_hours', 'tue', 1)``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:  # pydantic names a bad mapping key "[key]"
            path += part if not path or part.startswith("[") else f".{part}"
    return path


_SIMPLE = (str, int, float, bool, date, time, type(None))
_MESSAGES = {
    **dict.fromkeys(("model_type", "model_attributes_type", "dict_type"), "must be a mapping of key: value"),
    **dict.fromkeys(("tuple_type", "list_type"), "must be a list"),
    **dict.fromkeys(("int_type", "int_from_float"), "must be a whole number"),
    "missing": "is required",
    "float_type": "must be a number",
    "string_type": "must be text",
}


def explain(error: ValidationError, keys_at: KeysAt | None = None, show_input: bool = True) -> list[tuple[Loc, str]]:
    """Reword pydantic's errors for the person editing the file, as (location, message) pairs, all of them.
    `show_input=False` leaves out what was written (a setting may hold a password)."""
    pairs: list[tuple[Loc, str]] = []
    for item in error.errors(include_url=False):
        loc, kind, value = tuple(item["loc"]), item["type"], item.get("input")
        if kind == "value_error":
            message = item["msg"].removeprefix("Value error, ")
            pairs.extend((loc, line) for line in message.splitlines())
            continue
        if kind == "extra_forbidden":
            keys = keys_at(loc) if keys_at else ()
            guess = difflib.get_close_matches(str(loc[-1]) if loc else "", keys, n=1, cutoff=0.7)
            pairs.append((loc, "unknown key" + (f"; did you mean {guess[0]!r}?" if guess else "")))
            continue
        message = _MESSAGES.get(kind) or item["msg"].replace("Input should be", "must be", 1)
        if show_input and kind != "missing" and isinstance(value, _SIMPLE):
            message += f" (got {show(value)})"
            if kind == "string_type" and value is not None:
                message += "; put it in quotes"
        pairs.append((loc, message))
    return pairs


def problems(error: ValidationError, label: Labeler | None = None, keys_at: KeysAt | None = None,
             hide_input: Iterable[str] = (), show_input: bool = True) -> list[str]:
    """Every error as ``where: message``, where is the label and the rest of the path; what was written is left
    out under a key named in `hide_input` (a pasted password) or everywhere without `show_input`."""
    hidden = frozenset(hide_input)
    lines = []
    for loc, message in explain(error, keys_at, show_input):
        if hidden.intersection(map(str, loc)):
            message = message.split(" (got ", 1)[0]
        name, rest = label(loc) if label else ("", loc)
        where = " ".join(filter(None, (name, field_path(rest))))
        lines.append(f"{where}: {message}" if where else message)
    return lines


def model_keys(model: type[BaseModel]) -> list[str]:
    """The keys a model accepts, as written in a file (aliases first)."""
    return [info.alias or name for name, info in model.model_fields.items()]
