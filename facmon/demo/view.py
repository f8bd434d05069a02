"""What `facmon demo` prints: step lines, the flagged and suspect tables, the counts, the dashboards hint. Pure.

The tables read `facmon analyze --format json` (docs/analytics.md), so the demo shows exactly what the
command gives anyone else. The `integrity` key of a facility may be absent (older output): not suspect then.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from analytics.analysis.model import DISPLAY_ORDER, Status
from analytics.analysis.output import (  # the helpers of analyze's own table
    TypeNames,
    builtin_type_names,
    display_width,
    fit_columns,
)
from facmon.core.i18n import N_, _, format_percent

Facility = Mapping[str, Any]

#: Column titles (translated where shown) and their least widths; a title wider than that widens its column.
FLAGGED_COLUMNS = ((N_("FACILITY"), 14), (N_("NAME"), 22), (N_("TYPE"), 16), (N_("STATUS"), 9), (N_("OCC"), 5),
                   (N_("COVER"), 5))
SUSPECT_COLUMNS = ((N_("FACILITY"), 14), (N_("NAME"), 22), (N_("STATUS"), 9), (N_("DETECTORS"), 24))
MIN_REASON_WIDTH = 30


def is_flagged(facility: Facility) -> bool:
    """IDLE, UNDERUSED or NO_DATA: what someone has to act on (analytics.analysis.model.Status.flagged)."""
    try:
        return Status(facility.get("status", "")).flagged
    except ValueError:
        return False


def is_suspect(facility: Facility) -> bool:
    integrity = facility.get("integrity")
    return isinstance(integrity, Mapping) and integrity.get("suspect") is True


def _pct(value: object) -> str:
    return format_percent(value) if isinstance(value, int | float) and not isinstance(value, bool) else "-"


def _label(status: object) -> str:
    """A status code as the reader's language writes it; anything else as it came."""
    try:
        return Status(str(status)).label
    except ValueError:
        return str(status)


def _columns(columns: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    """The titles in the current language, each column at least as wide as its title."""
    return [(_(title), max(size, display_width(_(title)))) for title, size in columns]


def _first(items: object) -> str:
    return str(items[0]) if isinstance(items, list) and items else ""


def _row(cells: Sequence[str], columns: Sequence[tuple[str, int]], tail: str, width: int | None) -> str:
    """Fixed-width cells, then the free text, cut to `width` terminal columns when one is given."""
    line = "  ".join(fit_columns(cell, size) for cell, (_title, size) in zip(cells, columns, strict=True)) + "  "
    room = None if width is None else max(MIN_REASON_WIDTH, width - display_width(line))
    if room is not None and display_width(tail) > room:
        tail = fit_columns(tail, room)
    return (line + tail).rstrip()


def flagged_table(facilities: Sequence[Facility], width: int | None = None,
                  type_names: TypeNames | None = None) -> list[str]:
    """Header and one row per flagged facility, in analyze's order, with its main reason; each type by its name
    (`type_names`: the registry's, else the built-in ones), as analyze's own table shows it."""
    name_of = type_names or builtin_type_names
    rows = [[f.get("facility_id", "?"), f.get("name", ""), name_of(str(f.get("type", ""))), _label(f.get("status", "")),
             _pct((f.get("figures") or {}).get("occupancy_rate")), _pct(f.get("coverage")), _first(f.get("reasons"))]
            for f in facilities if is_flagged(f)]
    columns = _columns(FLAGGED_COLUMNS)
    header = _row([title for title, _size in columns], columns, _("MAIN REASON"), width)
    return [header, *(_row(row[:-1], columns, row[-1], width) for row in rows)]


def suspect_table(facilities: Sequence[Facility], width: int | None = None) -> list[str]:
    """Header and one row per facility whose data look forged, with the detectors and the first finding."""
    columns = _columns(SUSPECT_COLUMNS)
    lines = [_row([title for title, _size in columns], columns, _("FIRST FINDING"), width)]
    for f in facilities:
        if not is_suspect(f):
            continue
        integrity = f["integrity"]
        findings = integrity.get("findings") or []
        reason = findings[0].get("reason", "") if findings and isinstance(findings[0], Mapping) else ""
        detectors = ", ".join(str(d) for d in integrity.get("detectors") or [])
        lines.append(_row([f.get("facility_id", "?"), f.get("name", ""), _label(f.get("status", "")), detectors],
                          columns, reason, width))
    return lines


def counts_line(counts: Mapping[str, int]) -> str:
    """`5 IDLE, 6 UNDERUSED, 1 NO_DATA, 1 EXEMPT, 47 ACTIVE` (闲置 5，使用率低 6，…): flagged first, zeros
    included."""
    return _(", ").join(_("{count} {status}").format(count=counts.get(status.value, 0), status=status.label)
                        for status in DISPLAY_ORDER)


def step_line(number: int, total: int, text: str, seconds: float) -> str:
    return f"[{number}/{total}] {seconds:5.1f} s  {text}"


def dashboards_hint(compose: bool) -> list[str]:
    """How to see the Grafana dashboards: with Docker Compose on this machine, or what to do without it."""
    if compose:
        return [
            _("Dashboards: Grafana runs in the Docker Compose stack (docs/dashboards.md):"),
            "  cp deploy/compose/example.env .env     # " + _("then replace every password in .env"),
            "  docker compose --profile simulate up -d  # " + _("the stack, with virtual sensors"),
            "  " + _("open http://localhost:3000 and log in as admin with GRAFANA_ADMIN_PASSWORD from .env"),
        ]
    # one message in three lines, so that a translator sees the whole sentence
    return _("Dashboards: Grafana runs in the Docker Compose stack (`docker compose up`, then http://localhost:3000,\n"
             "  user admin, password GRAFANA_ADMIN_PASSWORD from .env; docs/dashboards.md), but this machine has no\n"
             "  Docker engine with compose. `facmon dashboards check` validates the dashboards as code here."
             ).splitlines()


def write_lines(stream: TextIO, lines: Sequence[str]) -> None:
    stream.write("".join(line + "\n" for line in lines))
    stream.flush()
