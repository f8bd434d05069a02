"""`facmon dashboards render|check|publish|sync-registry`."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from facmon.cli.common import (
    EXIT_USAGE,
    CommandError,
    settings_flags,
    settings_from,
    wait_for_signal,
)
from facmon.core import i18n
from facmon.core.i18n import N_, _
from sensors.registry import load_registry

log = logging.getLogger(__name__)

TOKEN_ENV = "GRAFANA_TOKEN"  # noqa: S105 (the variable's name, not a token)
URL_ENV = "GRAFANA_URL"


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `dashboards` subcommand to facmon's parser."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "dashboards", help="render, check and publish the Grafana dashboards; sync the registry for them")
    sub = parser.add_subparsers(dest="dashboards_command", required=True, metavar="ACTION")

    render = sub.add_parser("render", help="write dashboards/*.json and the provisioning files from the code")
    render.add_argument("--dir", type=Path, help="write here instead of the package's dashboards/ directory")
    render.set_defaults(handler=cmd_render)

    check = sub.add_parser(
        "check", help="fail when the committed files differ from the code or are malformed",
        description="With --live, also run every query (All selected, each dashboard's default time range) "
                    "against the InfluxDB of the settings: fail when InfluxDB refuses one, list those without data.")
    check.add_argument("--dir", type=Path, help="check the files here instead of the package's directory")
    check.add_argument("--live", action="store_true", help="also run every query against InfluxDB")
    settings_flags(check)
    check.set_defaults(handler=cmd_check)

    publish = sub.add_parser(
        "publish", help="push the data source and dashboards to Grafana's HTTP API (overwrite by uid)",
        description=f"The token comes from --token-file, --token (visible to other users of this machine) or "
                    f"${TOKEN_ENV}. The data source's password comes from "
                    "--datasource-password-file or $FACMON_GRAFANA_INFLUX_PASSWORD.")
    publish.add_argument("--url", help=f"Grafana's URL (default ${URL_ENV})")
    publish.add_argument("--token", help="service account token")
    publish.add_argument("--token-file", type=Path, help="file holding the service account token")
    publish.add_argument("--folder", help="folder to put the dashboards in (created when missing)")
    publish.add_argument("--skip-datasource", action="store_true", help="publish the dashboards only")
    publish.add_argument("--datasource-url", help="InfluxDB URL as Grafana reaches it "
                                                  "(default $FACMON_GRAFANA_INFLUX_URL, else FACMON_INFLUX_URL)")
    publish.add_argument("--datasource-db", help="database (default $FACMON_GRAFANA_INFLUX_DB, else FACMON_INFLUX_DB)")
    publish.add_argument("--datasource-evidence-db", help="evidence database (default "
                         "$FACMON_GRAFANA_INFLUX_EVIDENCE_DB, else FACMON_INFLUX_EVIDENCE_DB)")
    publish.add_argument("--datasource-user", help="read-only InfluxDB user (default $FACMON_GRAFANA_INFLUX_USER)")
    publish.add_argument("--datasource-password-file", type=Path, help="file holding that user's password")
    publish.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    publish.set_defaults(handler=cmd_publish)

    sync = sub.add_parser("sync-registry", help="write the registry's names, locations and time zones to "
                                                "InfluxDB (measurement facility_info) for the dashboards")
    settings_flags(sync)
    sync.add_argument("--every", help="sync again at this interval, e.g. 1h, until SIGTERM")
    sync.set_defaults(handler=cmd_sync)
    return parser


def cmd_render(args: argparse.Namespace) -> int:
    from dashboards import render

    changed = render.render(args.dir) if args.dir else render.render()
    for path in changed:
        print(_("wrote {path}").format(path=path))
    print(_("{files} files, {changed} changed").format(files=len(render.rendered_files()), changed=len(changed)),
          file=sys.stderr)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from dashboards import lint, render

    problems = render.drift(args.dir) if args.dir else render.drift()
    for language in i18n.LANGUAGES:  # both languages' dashboards are checked, whichever is configured
        problems += [f"{language}: {problem}" for problem in lint.lint(render.dashboards(language))]
    if args.live:
        problems += _live(args)
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(_("{files} files up to date, dashboards well formed").format(files=len(render.rendered_files())),
          file=sys.stderr)
    return 0


def _live(args: argparse.Namespace) -> list[str]:
    from analytics.analysis.evidence import clients
    from dashboards import render
    from dashboards.runner import Clients, live_problems
    settings = settings_from(args)
    readings, evidence = clients(settings)
    errors: list[str] = []
    try:
        for model in render.dashboards(i18n.current()).values():
            refused, empty = live_problems(model, Clients(readings, evidence), time.time_ns() // 1_000_000)
            errors += refused
            for name in empty:
                print(_("no data (yet?): {name}").format(name=name), file=sys.stderr)
    finally:
        readings.close()
        evidence.close()
    return errors


def _secret(path: Path | None, setting: SecretStr | None, flag: str | None, what: str) -> str:
    """From the file given, else the flag, else the setting (its environment variable)."""
    if path is not None:
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise CommandError(_("cannot read the {what} file {path}: {problem}").format(
                what=_(what), path=path, problem=exc.strerror), EXIT_USAGE) from None
    return flag or (setting.get_secret_value() if setting else "")


def cmd_publish(args: argparse.Namespace) -> int:
    from dashboards import publish, render
    from dashboards.provisioning import InfluxSource
    settings = settings_from(argparse.Namespace(language=args.language))  # only --lang of the settings flags
    url = args.url or settings.grafana_url
    if not url:
        raise CommandError(_("give Grafana's URL with --url or ${variable}").format(variable=URL_ENV), EXIT_USAGE)
    token = _secret(args.token_file, settings.grafana_token, args.token, N_("token"))
    if not token:
        raise CommandError(_("give a token with --token-file, ${variable} or --token").format(variable=TOKEN_ENV),
                           EXIT_USAGE)
    source = None
    if not args.skip_datasource:
        source = InfluxSource(
            url=args.datasource_url or settings.grafana_influx_url or settings.influx_url,
            database=args.datasource_db or settings.grafana_influx_db or settings.influx_db,
            evidence_database=(args.datasource_evidence_db or settings.grafana_influx_evidence_db
                               or settings.evidence_db),
            user=args.datasource_user or settings.grafana_influx_user or "",
            password=_secret(args.datasource_password_file, settings.grafana_influx_password, None, N_("password")),
        )
    # in the configured language (FACMON_LANGUAGE, --lang, else the locale's): both sets share their uids
    report = publish.publish(publish.connect(url, token, args.timeout), render.dashboards(i18n.current()), source,
                             args.folder)
    for line in report.lines():
        print(line)
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    from analytics.analysis.evidence import EvidenceError, prepare
    from analytics.analysis.periodic import run_every
    from dashboards.registry_sync import sync
    from facmon.cli.analyze import parse_every
    from facmon.core import logs
    from facmon.core.influx import InfluxClient, InfluxError
    from sensors.registry import RegistryError

    settings = settings_from(args)
    try:
        every = None if args.every is None else parse_every(args.every)
    except argparse.ArgumentTypeError as exc:
        raise CommandError(f"--every: {exc}", EXIT_USAGE) from None
    load_registry(settings.registry, settings.registry_cache_dir)  # fail at once on a broken registry, before any loop
    logs.configure(settings.log_level)
    # facility_info goes with the statuses it completes, into the evidence database (analytics.analysis.evidence).
    client = InfluxClient.from_settings(settings, evidence=True)
    try:
        try:
            prepare(client)
        except EvidenceError as exc:
            raise CommandError(f"InfluxDB at {settings.influx_url}: {exc}") from None
        if every is None:
            try:
                count = sync(client, load_registry(settings.registry, settings.registry_cache_dir))
            except InfluxError as exc:
                raise CommandError(f"InfluxDB at {settings.influx_url}: {exc}") from None
            print(_("wrote {count} facilities to facility_info").format(count=count))
            return 0

        def once() -> None:
            try:
                # re-read: the registry may have been edited
                sync(client, load_registry(settings.registry, settings.registry_cache_dir))
            except RegistryError as exc:
                log.error("registry not synced: %s", exc)

        run_every(once, every, wait_for_signal())
        return 0
    finally:
        client.close()
