"""The e-mail digest: one message per recipient per run listing every notice, instead of one mail each.

A county run can raise dozens of notices for one auditor; one message each buries them. The digest lists every
notice's one-line summary first, then each notice's full text (analytics.alert_message.mail_text), so nothing a
single mail would have said is lost. Recipients who want one mail per notice set ``digest: false``. Pure.

A province's run can raise thousands: a digest carries at most ``MAX_NOTICES``, more come as several mails of
about equal size whose subjects say "(part N of M)", numbered on across the parts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from analytics.alerts.message import mail_text, summary
from facmon.core.i18n import _

RULE = "-" * 72
#: The most notices one digest mail carries.
MAX_NOTICES = 200
Notices = Sequence[Mapping[str, Any]]


def split_notices(notices: Notices, most: int = MAX_NOTICES) -> list[Notices]:
    """The notices in as few parts of at most ``most`` as there can be, of about equal size, in order."""
    if most < 1:
        raise ValueError(f"a digest carries at least one notice, not {most}")
    count = max(1, -(-len(notices) // most))
    size, extra = divmod(len(notices), count)
    parts, start = [], 0
    for index in range(count):
        end = start + size + (index < extra)
        parts.append(notices[start:end])
        start = end
    return parts


def digest_subject(notices: Notices, part: int = 1, of: int = 1) -> str:
    """The subject; of a digest in ``of`` parts, with which part this is."""
    as_of = sorted({str(n["as_of"]) for n in notices})
    if of > 1:
        return _("[facmon] {count} notices as of {as_of} (part {part} of {of})").format(
            count=len(notices), as_of=", ".join(as_of), part=part, of=of)
    return _("[facmon] {count} notices as of {as_of}").format(count=len(notices), as_of=", ".join(as_of))


def digest_text(notices: Notices, first: int = 1, total: int | None = None) -> str:
    """The list of summaries, numbered from ``first``, then every notice in full under its number; ``total``:
    the notices of the whole run, when this mail is one part of them."""
    if total is not None and total != len(notices):
        heading = _("facmon: notices {first} to {last} of the {total} in this run").format(
            first=first, last=first + len(notices) - 1, total=total)
    else:
        heading = (_("facmon: {count} notice in this run") if len(notices) == 1
                   else _("facmon: {count} notices in this run")).format(count=len(notices))
    lines = [heading, ""]
    lines += [f"{index}. {summary(data)}" for index, data in enumerate(notices, first)]
    for index, data in enumerate(notices, first):
        lines += ["", RULE, f"{index}.", "", mail_text(data).rstrip("\n")]
    return "\n".join(lines) + "\n"
