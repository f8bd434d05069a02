"""The e-mail digest: one message per recipient per run listing every notice, instead of one mail each.

A county run can raise dozens of notices for one auditor; one message each buries them. The digest lists every
notice's one-line summary first, then each notice's full text (analytics.alert_message.mail_text), so nothing a
single mail would have said is lost. Recipients who want one mail per notice set ``digest: false``. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from analytics.alerts.message import mail_text, summary
from facmon.core.i18n import _

RULE = "-" * 72


def digest_subject(notices: Sequence[Mapping[str, Any]]) -> str:
    as_of = sorted({str(n["as_of"]) for n in notices})
    return _("[facmon] {count} notices as of {as_of}").format(count=len(notices), as_of=", ".join(as_of))


def digest_text(notices: Sequence[Mapping[str, Any]]) -> str:
    """The list of summaries, numbered, then every notice in full under its number."""
    heading = _("facmon: {count} notice in this run") if len(notices) == 1 else _("facmon: {count} notices in this run")
    lines = [heading.format(count=len(notices)), ""]
    lines += [f"{index}. {summary(data)}" for index, data in enumerate(notices, 1)]
    for index, data in enumerate(notices, 1):
        lines += ["", RULE, f"{index}.", "", mail_text(data).rstrip("\n")]
    return "\n".join(lines) + "\n"
