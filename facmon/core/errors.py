"""One root for the errors facmon expects, with the exit code on the class.

A failure a person can act on (a bad file, a server that refuses) is a `FacmonError`: the `facmon` command
prints it in one line and exits with its `exit_code`, in one place (facmon.cli.main). Anything else is a bug and
keeps its traceback. `ConfigError` is the kind a person fixes by editing input (exit 2, as argparse's usage
errors); the rest are failures of the run (exit 1). `AlertDeliveryError` (exit 3) is a run that did its work but
could not tell the people it was meant to tell: a scheduled job must notice, and tell it from a failed run.
"""

from __future__ import annotations

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
EXIT_ALERTS = 3  # facmon analyze: the analysis ran and was stored, but alerts were not (all) delivered
EXIT_INTERRUPTED = 130  # the shell's 128 + SIGINT


class FacmonError(Exception):
    """An expected failure, reported in one line; `exit_code` is what the command exits with."""

    exit_code: int = EXIT_FAILURE


class ConfigError(FacmonError):
    """Bad input: settings, a registry, a rules or auditors file, a command-line value."""

    exit_code = EXIT_USAGE


class AlertDeliveryError(FacmonError):
    """Alerts were not (all) delivered, or the auditors file is unusable; the run's results are printed and kept."""

    exit_code = EXIT_ALERTS
