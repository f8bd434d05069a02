"""`facmon broker-config` and `facmon check-config`: the command-line side of access control and set-up checks."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from facmon.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    settings_flags,
    settings_from,
)
from facmon.core.i18n import _
from sensors.registry import load_registry


def cmd_broker_config(args: argparse.Namespace) -> int:
    """Generate Mosquitto's password file, ACL and mosquitto.conf; nothing is written unless all is well."""
    from facmon.access.brokerconfig import BrokerConfigError, Listeners, generate
    from facmon.access.rules import AccessError, BrokerLimits, Listener
    from facmon.core.binaries import ServerUnavailable

    settings = settings_from(args)
    registry = load_registry(settings.registry, settings.registry_cache_dir)
    tls = args.tls_cert is not None or args.tls_key is not None
    if tls and (args.tls_cert is None or args.tls_key is None):
        raise CommandError(_("--tls-cert and --tls-key go together"), EXIT_USAGE)
    tls_files = {"certfile": args.tls_cert, "keyfile": args.tls_key, "cafile": args.tls_ca}
    try:
        listeners = Listeners(
            Listener(port=args.port or (8883 if tls else 1883), bind=args.bind, **tls_files),
            Listener(port=args.services_port or (8884 if tls else 1884), bind=args.services_bind or None,
                     **tls_files),
            BrokerLimits(args.max_connections, args.max_service_connections, args.memory_limit),
        )
        done = generate(registry, Path(args.integrators), Path(args.out), settings.topic_prefix, listeners,
                        args.install_dir, simulator=args.simulator == "yes", plugin=args.dynsec_plugin)
    except AccessError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    except (BrokerConfigError, ServerUnavailable, ValueError, OSError) as exc:
        raise CommandError(str(exc), EXIT_FAILURE) from None
    for name in done.loose_secret_files:
        print(_("facmon: warning: password file {name} can be read by other users (chmod 600 it)").format(name=name),
              file=sys.stderr)
    done_text = _("wrote {directory}/passwd and acl ({services} service accounts, hashed by mosquitto_passwd), "
                  "dynsec.json ({integrators} integrators with {logins} logins serving {facilities} facilities) and "
                  "mosquitto.conf")
    print(done_text.format(
        directory=done.directory, services=done.accounts - done.integrators, integrators=done.integrators,
        logins=done.integrator_logins, facilities=done.facilities))
    return EXIT_OK


def cmd_check_config(args: argparse.Namespace) -> int:
    """Check registry, broker and InfluxDB with the current settings, and say whether an ingester is live; exit 1
    when anything but the last is wrong."""
    from facmon.access.checkalerts import check_auditors, check_rules
    from facmon.access.checkchannels import check_channels, check_readings, send_test
    from facmon.access.checkconfig import render, render_json, run_checks

    settings = settings_from(args)
    checks = run_checks(settings, args.timeout)
    influx = next(c for c in checks if c.name == "influxdb")
    if influx.ok or "does not exist" in influx.detail:
        checks.append(check_readings(settings, args.timeout))
    checks.append(check_auditors(settings))
    checks += [c for c in (check_rules(args.rules),) if c is not None]
    checks += check_channels(settings, args.timeout)
    if args.send_test:
        checks += send_test(settings, args.send_test, args.timeout)
    sys.stdout.write(render_json(checks) if args.format == "json" else render(checks))
    return EXIT_OK if all(check.ok or check.advisory for check in checks) else EXIT_FAILURE


def register(subparsers: Any) -> None:
    """Add `broker-config` and `check-config` to facmon's parser."""
    broker = subparsers.add_parser(
        "broker-config",
        help="generate Mosquitto's password file, ACL and mosquitto.conf",
        description="Generate the broker's password file (hashed by mosquitto_passwd), ACL and mosquitto.conf "
        "from the registry and an integrators file. Passwords come from the environment variables or files that "
        "the integrators file names. See docs/security.md.",
    )
    broker.add_argument("--registry", help="facility registry YAML (default FACMON_REGISTRY)")
    broker.add_argument("--integrators", required=True, help="integrators YAML (accounts and their facilities)")
    broker.add_argument("--out", required=True,
                        help="directory to write passwd, acl, dynsec.json and mosquitto.conf into")
    broker.add_argument("--topic-prefix", help="topic prefix (default FACMON_TOPIC_PREFIX or facmon/v1)")
    broker.add_argument("--port", type=int, help="integrators' listener port (default 1883, or 8883 with TLS)")
    broker.add_argument("--bind", help="integrators' listener address (default: all)")
    broker.add_argument("--services-port", type=int,
                        help="services' listener port (ingester, analytics; default 1884, or 8884 with TLS)")
    broker.add_argument("--services-bind", default="127.0.0.1",
                        help="services' listener address (default 127.0.0.1; '' for all, e.g. in a container)")
    broker.add_argument("--max-connections", type=int, default=5000,
                        help="integrator connections the broker accepts at once (default 5000)")
    broker.add_argument("--max-service-connections", type=int, default=64,
                        help="service connections the broker accepts at once (default 64)")
    broker.add_argument("--memory-limit", type=int, default=2048, metavar="MIB",
                        help="the broker's heap ceiling in MiB (default 2048)")
    broker.add_argument("--simulator", choices=("yes", "no"), nargs="?", const="yes", default="no",
                        help="also create the simulator's account facmon-simulator (every facility; password "
                        "from FACMON_MQTT_SIMULATOR_PASSWORD), on the services' listener (default: no)")
    broker.add_argument("--dynsec-plugin", help="path of mosquitto_dynamic_security.so on the broker host "
                        "(default: Debian's /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so)")
    broker.add_argument("--tls-cert", help="server certificate (PEM) for a TLS listener, as a path on the broker")
    broker.add_argument("--tls-key", help="its private key (PEM), as a path on the broker")
    broker.add_argument("--tls-ca", help="CA file sent with the certificate chain, as a path on the broker")
    broker.add_argument(
        "--install-dir", help="where the files will live on the broker host (default: the --out directory)"
    )
    broker.set_defaults(handler=cmd_broker_config)

    check = subparsers.add_parser(
        "check-config",
        help="check the registry, the broker, InfluxDB, the auditors file, its alert channels and a rules file",
        description="Load the registry, log in to the broker and probe InfluxDB the way `facmon ingest` would, "
        "say whether the readings database holds readings, validate the auditors file and try each alert channel "
        "(mail server: connect, EHLO, login; webhooks: resolve and answer), and say in plain words what is wrong. "
        "Exit 0 when everything is fine, 1 otherwise.",
    )
    settings_flags(check)
    check.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for each server (default 5)")
    check.add_argument("--rules", help="also validate this rules YAML (as facmon analyze --rules reads it)")
    check.add_argument("--send-test", metavar="RECIPIENT",
                       help="send a real test notice to this auditors-file id over its e-mail and webhook channels")
    check.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or json")
    check.set_defaults(handler=cmd_check_config)
