"""What every `facmon` subcommand shares: exit codes, the settings flags, settings and registry loading, the
clock flag, and stopping on a signal. Subcommand modules import this, never facmon.cli.main."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from facmon.core import i18n
from facmon.core.errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, FacmonError
from facmon.core.i18n import _
from facmon.core.settings import Settings, load_settings
from sensors.contract import ID_PATTERN, is_valid_id

if TYPE_CHECKING:
    pass

__all__ = [
    "EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "LANG_HELP", "NOW_HELP", "CommandError", "credential_warnings",
    "instant", "language", "language_flag", "set_from_signal_handler", "settings_flags", "settings_from",
    "wait_for_signal", "write_atomically",
]

NOW_HELP = ("pin the clock: an ISO instant with its offset, e.g. 2026-12-01T16:30:00Z, for tests and reproducing "
            "a run (default FACMON_NOW, else the machine's clock)")


class CommandError(FacmonError):
    """A failure a subcommand reports in one line, with the exit code to use."""

    def __init__(self, message: str, code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.exit_code = code

    @property
    def code(self) -> int:
        return self.exit_code


def settings_flags(parser: argparse.ArgumentParser) -> None:
    """Flags that override FACMON_* settings; their names mirror the environment variables."""
    group = parser.add_argument_group("settings (override FACMON_* environment variables)")
    group.add_argument("--mqtt-url", help="broker URL, mqtt://[user:pass@]host:port or mqtts://")
    group.add_argument("--mqtt-ca-file", help="CA certificate for mqtts://")
    group.add_argument("--topic-prefix", help="topic prefix (default facmon/v1)")
    group.add_argument("--influx-url", help="InfluxDB URL (default http://127.0.0.1:8086)")
    group.add_argument("--influx-db", help="InfluxDB database of the readings (default facmon)")
    group.add_argument("--influx-evidence-db", help="InfluxDB database of statuses, alerts, reviews and the rollup "
                                                    "(default <influx-db>_evidence)")
    group.add_argument("--registry", help="facility registry YAML")
    group.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR")


_SETTING_FLAGS = (
    "mqtt_url", "mqtt_ca_file", "topic_prefix", "influx_url", "influx_db", "influx_evidence_db", "registry",
    "log_level", "max_reading_age", "mqtt_client_id", "mqtt_share_group", "batch_size", "now", "language",
    "deployment",
)

LANG_HELP = ("language of what a person reads: zh_CN or en (default FACMON_LANGUAGE, else the locale's, "
             "e.g. LANG=zh_CN.UTF-8; English without one)")


def language(text: str) -> str:
    """An argparse type for --lang: a language facmon speaks, checked before anything runs."""
    try:
        return i18n.parse_language(text)
    except i18n.LanguageError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None


def language_flag(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """--lang on facmon's own parser and on every subcommand's (`facmon --lang zh_CN demo` and `facmon demo
    --lang=zh_CN` alike); a subcommand's leaves the value alone unless given there."""
    parser.add_argument("--lang", dest="language", type=language, metavar="LANG", help=LANG_HELP,
                        default=None if top else argparse.SUPPRESS)


def instant(text: str) -> str:
    """An argparse type for --now: checked at once (before any server starts), passed on as ISO text."""
    from facmon.core.clock import parse_instant

    try:
        return parse_instant(text).isoformat()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} {exc}") from None


def settings_from(args: argparse.Namespace) -> Settings:
    """The settings, FACMON_* overridden by the flags given; a SettingsError (exit 2) goes up to main()."""
    overrides = {name: getattr(args, name, None) for name in _SETTING_FLAGS}
    settings = load_settings(overrides)
    if settings.language:  # FACMON_CONFIG may name it too
        i18n.set_language(settings.language)
    for warning in credential_warnings(settings, overrides):
        print(_("facmon: warning: {warning}").format(warning=warning), file=sys.stderr)
    return settings


def credential_warnings(settings: Settings, flags: dict[str, Any]) -> list[str]:
    """Passwords on the command line (any local user reads /proc/PID/cmdline) or crossing the network in clear."""
    warnings = []
    url = flags.get("mqtt_url")
    if url is not None and settings.mqtt.password is not None:
        warnings.append(_("--mqtt-url holds a password, which every local user can read in /proc/PID/cmdline; "
                          "set FACMON_MQTT_URL in the environment instead"))
    return warnings + settings.cleartext_warnings()


def set_from_signal_handler(event: threading.Event) -> None:
    """Set `event` from a signal handler without deadlocking.

    The handler runs in the main thread, possibly while that thread is inside `event.wait()` holding the event's
    own non-reentrant lock; `event.set()` there would wait for that lock forever. Another thread can take it.
    """
    threading.Thread(target=event.set, name="signal", daemon=True).start()


def wait_for_signal() -> threading.Event:
    """An event set by SIGTERM or SIGINT, so services stop cleanly (flush, acknowledge, disconnect)."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        set_from_signal_handler(stop)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def parse_facility(text: str) -> str:
    """A --facility argument, checked here so that a malformed id never reaches a topic or a query."""
    if not is_valid_id(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a facility id ({ID_PATTERN})")
    return text


def write_atomically(path: Path, data: bytes) -> None:
    """Write a file whole or not at all: a new file beside it, synced, then renamed over it, so a reader (a file
    transfer picking up an export, a job reading the national view) never sees half of one and a failed write
    leaves the previous file as it was. A CommandError names the file and the reason."""
    directory = path.parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide an export from the transfer job's user
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as exc:
        raise CommandError(_("cannot write {path}: {reason}").format(path=path, reason=exc.strerror or exc)) from None
