"""One root for the errors facmon expects, with the exit code on the class.

A failure a person can act on (a bad file, a server that refuses) is a `FacmonError`: the `facmon` command
prints it in one line and exits with its `exit_code`, in one place (facmon.cli.main). Anything else is a bug and
keeps its traceback. `ConfigError` is the kind a person fixes by editing input (exit 2, as argparse's usage
errors); the rest are failures of the run (exit 1).
"""

from __future__ import annotations

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # the shell's 128 + SIGINT


class FacmonError(Exception):
    """An expected failure, reported in one line; `exit_code` is what the command exits with."""

    exit_code: int = EXIT_FAILURE


class ConfigError(FacmonError):
    """Bad input: settings, a registry, a rules or auditors file, a command-line value."""

    exit_code = EXIT_USAGE
