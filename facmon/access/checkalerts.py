"""`facmon check-config`'s checks of what analyze alerts with: the auditors file (FACMON_AUDITORS) and a rules file.

A typo in either (``emial`` for ``email``) used to surface only as an error line in analyze's log while
check-config said OK; now it is a failed check naming every problem. Alerts off (no auditors file) is said,
not failed.
"""

from __future__ import annotations

from analytics.alerts.auditors import AuditorsError, load_auditors
from analytics.analysis.rules import RulesError, load_rules
from facmon.access.checkconfig import Check
from facmon.core.settings import Settings


def check_auditors(settings: Settings) -> Check:
    if settings.auditors is None:
        return Check("auditors", True, "no auditors file (FACMON_AUDITORS): alerts are off")
    try:
        directory = load_auditors(settings.auditors)
    except AuditorsError as exc:
        return Check("auditors", False, f"{settings.auditors} is unusable, no alert would be sent:\n{exc}")
    auditors, departments = len(directory.auditors), len(directory.departments)
    return Check("auditors", True, f"{settings.auditors}: {auditors} auditors, {departments} department contacts")


def check_rules(path: str | None) -> Check | None:
    """The rules file given with --rules (None: nothing to check)."""
    if path is None:
        return None
    try:
        rules = load_rules(path)
    except RulesError as exc:
        return Check("rules", False, str(exc))
    return Check("rules", True, f"{path}: thresholds for {len(rules.types)} facility types")
