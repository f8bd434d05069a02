"""Real Mosquitto and InfluxDB 1.x servers on loopback for tests, the demo and benchmarks, and the ingester
as a child process of its own (the demo's, stopped cleanly with the servers).

Each server runs from the Debian package's binary with a config of its own in a work directory, on a free
port, so it never touches a system service or another test run. No mocks: the point is to exercise the real
broker and database, including restarts and crashes. Standard library only, so it works before any extras are
installed.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import ctypes
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from facmon import resources
from facmon.core.binaries import INSTALL_HINT, ServerUnavailable, require_binary
from facmon.core.errors import FacmonError

__all__ = [
    "INSTALL_HINT",
    "SHIPPED_MOSQUITTO_CONF",
    "LocalInfluxDB",
    "LocalIngester",
    "LocalMosquitto",
    "ServerStartError",
    "ServerUnavailable",
    "free_port",
    "require_binary",
]

HOST = "127.0.0.1"

#: The broker settings the ingester relies on, shipped for deployments; local brokers use the very same lines.
SHIPPED_MOSQUITTO_CONF = resources.mosquitto_conf()

_LOG_TAIL_LINES = 40


class ServerStartError(FacmonError, RuntimeError):
    """The server is installed but did not come up (or exited); the message carries its log tail."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc), for the benchmarks' per-process figures."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _log_tail(*paths: Path, lines: int = _LOG_TAIL_LINES) -> str:
    """Last lines of each existing log, for error messages that explain why a server did not come up."""
    parts = []
    for path in paths:
        with contextlib.suppress(OSError):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            if text:
                parts.append(f"--- {path} (last {len(text)} lines) ---\n" + "\n".join(text))
    return "\n".join(parts) if parts else "(no log output)"


def _load_prctl() -> Any:
    """Look up libc's prctl once, in the parent: the forked child should do as little as possible."""
    if sys.platform != "linux":
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child: have Linux SIGKILL the server if we die hard (pytest killed), so none is orphaned.

    Caveat: the kernel ties this to the *thread* that spawned the child, so start servers from a thread that
    lives as long as they should (the main thread, in tests and the demo).
    """
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL)


# Servers started and not yet stopped; a plain set (not weak) so forgotten ones are still killed at exit.
_live_servers: set[_LocalServer] = set()


def _kill_leftovers() -> None:
    """At interpreter exit, stop servers the caller forgot, so ports and processes are not left behind."""
    for server in list(_live_servers):
        with contextlib.suppress(Exception):
            server.kill()


atexit.register(_kill_leftovers)


class _LocalServer:
    """Lifecycle shared by both servers: spawn, wait until ready, stop cleanly, kill, restart."""

    name = "server"
    binary = ""
    start_timeout = 10.0
    stop_timeout = 20.0

    def __init__(self, workdir: Path, port: int | None) -> None:
        self.workdir = Path(workdir).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port: int = port if port is not None else free_port()
        self.output_path = self.workdir / f"{self.name}.out"
        self._proc: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None
        self.startup_seconds: float | None = None  # how long the last start() waited for readiness

    # -- subclass hooks -------------------------------------------------------------------------------------
    def _command(self, exe: str) -> list[str]:
        raise NotImplementedError

    def _is_ready(self) -> bool:
        raise NotImplementedError

    def _after_start(self) -> None:
        """Run once the server answers (e.g. create users)."""

    def _log_paths(self) -> list[Path]:
        return [self.output_path]

    def _executable(self) -> str:
        return require_binary(self.binary)

    def _env(self) -> dict[str, str] | None:
        """The child's environment; None: ours."""
        return None

    def _where(self) -> str:
        return f" on {HOST}:{self.port}"

    # -- lifecycle ------------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True while our process is alive (says nothing about readiness after start() returned)."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """Process id of the running server, for fault tests that signal it themselves."""
        return self._proc.pid if self.running and self._proc is not None else None

    def start(self) -> None:
        """Spawn the server and block until it serves; raise ServerStartError with its log tail otherwise."""
        if self.running:
            return
        self._reap()
        exe = self._executable()
        self._output = self.output_path.open("ab")
        # Own session: a Ctrl-C in the terminal reaches only the caller, whose teardown then stops us cleanly.
        self._proc = subprocess.Popen(
            self._command(exe),
            stdin=subprocess.DEVNULL,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            env=self._env(),
            start_new_session=True,
            preexec_fn=_die_with_parent if _PRCTL is not None else None,
        )
        _live_servers.add(self)
        started = time.monotonic()
        try:
            self._wait_ready(started)
            self.startup_seconds = time.monotonic() - started
            self._after_start()
        except BaseException:  # a Ctrl-C while waiting too: never leave a half-started server behind
            self.kill()
            raise

    def _wait_ready(self, started: float) -> None:
        """Return once the server serves; ServerStartError when it exits or is not ready in time."""
        assert self._proc is not None
        deadline = started + self.start_timeout
        while True:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._reap()
                raise ServerStartError(
                    f"{self.name} exited with code {code} during start-up\n{_log_tail(*self._log_paths())}"
                )
            if self._is_ready():
                break
            if time.monotonic() > deadline:
                self.kill()
                raise ServerStartError(
                    f"{self.name} not ready{self._where()} within {self.start_timeout:g} s\n"
                    f"{_log_tail(*self._log_paths())}"
                )
            time.sleep(0.02)

    def stop(self) -> None:
        """SIGTERM and wait: both servers flush their state on a clean stop (Mosquitto saves its sessions)."""
        if self.running and self._proc is not None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._reap()

    def kill(self) -> None:
        """SIGKILL: a crash, losing whatever was not yet on disk (for fault-injection tests)."""
        if self.running and self._proc is not None:
            self._proc.kill()
            self._proc.wait()
        self._reap()

    def restart(self) -> None:
        """Clean stop then start on the same port and work directory (state survives)."""
        self.stop()
        self.start()

    def _reap(self) -> None:
        """Forget a finished process and close its output file (no ResourceWarnings under -W error)."""
        if self._proc is not None and self._proc.poll() is not None:
            self._proc = None
            _live_servers.discard(self)
        if self._proc is None and self._output is not None:
            self._output.close()
            self._output = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<{type(self).__name__}{self._where()} {state} in {self.workdir}>"


# A minimal MQTT 3.1.1 CONNECT (clean session, keepalive 10 s) and the DISCONNECT that ends it.
_PROBE_CLIENT_ID = b"facmon-localstack-probe"
_PROBE_CONNECT = (
    bytes([0x10, 10 + 2 + len(_PROBE_CLIENT_ID)])
    + b"\x00\x04MQTT\x04\x02\x00\x0a"
    + len(_PROBE_CLIENT_ID).to_bytes(2, "big")
    + _PROBE_CLIENT_ID
)
_DISCONNECT = b"\xe0\x00"


def _mqtt_answers(port: int) -> bool:
    """True if an MQTT broker on 127.0.0.1:port answers CONNECT with a CONNACK (refused by auth counts too).

    An open TCP port alone is not proof: it may belong to someone else while our broker failed to bind.
    """
    try:
        with socket.create_connection((HOST, port), timeout=1) as sock:
            sock.sendall(_PROBE_CONNECT)
            reply = sock.recv(4)
            if reply[:1] == b"\x20":
                sock.sendall(_DISCONNECT)
                return True
            return False
    except OSError:
        return False


class LocalMosquitto(_LocalServer):
    """A Mosquitto broker configured like production (the shipped facmon.conf) on a private port."""

    name = "mosquitto"
    binary = "mosquitto"
    start_timeout = 10.0

    def __init__(
        self, workdir: Path, port: int | None = None, extra_config: str = "", persistence: bool = True
    ) -> None:
        super().__init__(workdir, port)
        self.extra_config = extra_config
        self.persistence = persistence
        self.config_path = self.workdir / "mosquitto.conf"
        self.log_path = self.workdir / "mosquitto.log"
        self._log_offset = 0
        self.config_path.write_text(self._config_text())

    @property
    def url(self) -> str:
        """Broker address as the ingester and sensors take it."""
        return f"mqtt://{HOST}:{self.port}"

    @property
    def host(self) -> str:
        return HOST

    def _config_text(self) -> str:
        shipped = SHIPPED_MOSQUITTO_CONF.read_text().splitlines()
        if not self.persistence:
            shipped = [line for line in shipped if line.split()[:1] != ["persistence"]]
        extra = self.extra_config.splitlines()
        extra_keys = {line.split()[0] for line in extra if line.strip()}
        auth_keys = {"allow_anonymous", "password_file", "plugin", "auth_plugin", "psk_file"}
        sets_auth = bool(extra_keys & auth_keys)
        # Mosquitto wants per_listener_settings before the first listener (a generated config has it).
        hoisted = [line for line in extra if line.split()[:1] == ["per_listener_settings"]]
        extra = [line for line in extra if line not in hoisted]
        lines = [
            "# Generated by facmon.demo.localstack; the shipped facmon/resources/facmon.conf follows.",
            *hoisted,
            f"listener {self.port} {HOST}",
        ]
        if os.geteuid() == 0:
            # As root, Mosquitto 2 drops to user `mosquitto`, which cannot write our log or persistence files.
            lines.append("user root")
        if not sets_auth:
            lines.append("allow_anonymous true")
        lines += [
            f"persistence_location {self.workdir}/",
            f"log_dest file {self.log_path}",
            "",
            f"# ---- {SHIPPED_MOSQUITTO_CONF.name} ----",
            *shipped,
        ]
        if not self.persistence:
            lines.append("persistence false")
        if self.extra_config:
            lines += ["", "# ---- extra_config ----", *extra]
        return "\n".join(lines) + "\n"

    def _command(self, exe: str) -> list[str]:
        return [exe, "-c", str(self.config_path)]

    def start(self) -> None:
        """Start the broker; it counts as up once *this* process logged that it runs and it answers MQTT."""
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        super().start()

    def _is_ready(self) -> bool:
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._log_offset)
                started = b" running" in log.read()
        except OSError:
            return False
        return started and _mqtt_answers(self.port)

    def _log_paths(self) -> list[Path]:
        return [self.output_path, self.log_path]


class LocalInfluxDB(_LocalServer):
    """An InfluxDB 1.x server with its own meta/data/wal dirs, HTTP API on a private port, optional auth."""

    name = "influxd"
    binary = "influxd"
    start_timeout = 30.0

    def __init__(self, workdir: Path, port: int | None = None, auth: bool = False, max_series: int = 0) -> None:
        """`max_series`: InfluxDB's max-series-per-database (0: its default, one million)."""
        super().__init__(workdir, port)
        self.auth = auth
        self.max_series = max_series
        # influxd also listens on an RPC port for backup/restore (default 8088); give it a private one too.
        self.rpc_port = free_port()
        while self.rpc_port == self.port:
            self.rpc_port = free_port()
        self.config_path = self.workdir / "influxd.toml"
        self.log_path = self.workdir / "influxd.log"
        self.output_path = self.log_path
        self.admin_user: str | None = "admin" if auth else None
        self.admin_password: str | None = self._load_or_make_password() if auth else None
        self.config_path.write_text(self._config_text())

    @property
    def url(self) -> str:
        """HTTP API base URL."""
        return f"http://{HOST}:{self.port}"

    def _load_or_make_password(self) -> str:
        """Keep the admin password in the workdir so a new instance on the same data can still log in."""
        path = self.workdir / "admin-password"
        if path.exists():
            return path.read_text().strip()
        password = secrets.token_hex(16)  # hex: safe inside an InfluxQL string literal
        path.write_text(password + "\n")
        path.chmod(0o600)
        return password

    def _config_text(self) -> str:
        def q(value: object) -> str:
            return json.dumps(str(value))  # a JSON string is a valid TOML basic string

        return "\n".join(
            [
                "# Generated by facmon.demo.localstack.",
                # Upstream's key; Debian's build renamed it to reporting-enabled (default false). influxd
                # ignores unknown keys, so both are written and either build stays silent.
                "reporting-disabled = true",
                "reporting-enabled = false",
                f"bind-address = {q(f'{HOST}:{self.rpc_port}')}",
                "",
                "[meta]",
                f"  dir = {q(self.workdir / 'meta')}",
                "",
                "[data]",
                f"  dir = {q(self.workdir / 'data')}",
                f"  wal-dir = {q(self.workdir / 'wal')}",
                "  query-log-enabled = false",
                *([f"  max-series-per-database = {int(self.max_series)}"] if self.max_series else []),
                "",
                "[http]",
                f"  bind-address = {q(f'{HOST}:{self.port}')}",
                f"  auth-enabled = {'true' if self.auth else 'false'}",
                "  log-enabled = false",
                "",
                "[logging]",
                '  level = "warn"',
                "  suppress-logo = true",
                "",
                "[monitor]",
                "  store-enabled = false",
                "",
                "[continuous_queries]",
                "  enabled = true",
                "",
            ]
        )

    def _command(self, exe: str) -> list[str]:
        return [exe, "-config", str(self.config_path)]

    def _is_ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=1) as resp:  # noqa: S310 (our http URL)
                return bool(resp.status == 204)
        except urllib.error.HTTPError as exc:  # something answers, but not (yet) influxd's ping
            exc.close()
            return False
        except OSError:  # URLError is an OSError: refused, reset, timed out
            return False

    def _after_start(self) -> None:
        """With auth on, create the admin: allowed without credentials only while no user exists."""
        if not self.auth:
            return
        statement = f"CREATE USER {self.admin_user} WITH PASSWORD '{self.admin_password}' WITH ALL PRIVILEGES"
        try:
            self._request("/query", {"q": statement}, with_auth=False)
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code != 401:  # 401: users exist already (a restart); checked just below
                raise
        self.query("SHOW USERS")  # raises HTTPError 401 if our admin cannot log in

    # -- HTTP helpers for tests -----------------------------------------------------------------------------
    def _request(
        self, path: str, params: dict[str, str], body: bytes | None = None, with_auth: bool = True
    ) -> str:
        """POST to the API (form params, or query-string params plus a raw body); HTTPError on >= 400."""
        url = f"{self.url}{path}"
        if body is None:
            data = urllib.parse.urlencode(params).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
        else:
            url += "?" + urllib.parse.urlencode(params)
            data = body
            headers = {"Content-Type": "text/plain; charset=utf-8"}
        if with_auth and self.auth:
            token = base64.b64encode(f"{self.admin_user}:{self.admin_password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        req = urllib.request.Request(url, data=data, headers=headers, method="POST")  # noqa: S310
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310
            answer: bytes = resp.read()
        return answer.decode()

    def query(self, q: str, db: str | None = None) -> dict[str, Any]:
        """Run InfluxQL via POST /query (as admin when auth is on) and return the decoded JSON."""
        params = {"q": q}
        if db is not None:
            params["db"] = db
        text = self._request("/query", params)
        result: dict[str, Any] = json.loads(text) if text else {}
        return result

    def write(self, db: str, lines: str, precision: str = "ns") -> None:
        """Write line protocol to `db` (POST /write) to seed data the way any client would."""
        self._request("/write", {"db": db, "precision": precision}, body=lines.encode())


class LocalIngester(_LocalServer):
    """`facmon ingest` as a child process, with FACMON_* settings of its own and no others from our environment.

    It counts as up once this run logged its MQTT connection; stop() sends SIGTERM, on which it writes and
    acknowledges everything it took before exiting. Secrets belong in `settings` (the environment), never in
    `args`, which anyone on the machine can read with ps.
    """

    name = "ingester"
    start_timeout = 30.0
    stop_timeout = 60.0

    def __init__(self, workdir: Path, settings: Mapping[str, str], args: Sequence[str] = ()) -> None:
        super().__init__(workdir, port=0)
        self.settings = dict(settings)
        self.args = list(args)
        self.output_path = self.workdir / "ingester.log"
        self._log_offset = 0

    def _executable(self) -> str:
        return sys.executable

    def _command(self, exe: str) -> list[str]:
        return [exe, "-m", "facmon", "ingest", *self.args]

    def _env(self) -> dict[str, str]:
        inherited = {key: value for key, value in os.environ.items() if not key.upper().startswith("FACMON_")}
        return {**inherited, **self.settings}

    def _where(self) -> str:
        return ""

    def start(self) -> None:
        self._log_offset = self.output_path.stat().st_size if self.output_path.exists() else 0
        super().start()

    def _is_ready(self) -> bool:
        try:
            with self.output_path.open("rb") as log:
                log.seek(self._log_offset)
                return b" connected to " in log.read()
        except OSError:
            return False
