"""InfluxDB through its v1 HTTP API (`/write`, `/query`, `/ping`), shared by the ingester and analytics.

InfluxDB 1.x serves this API natively; 2.x and 3.x serve it as their v1 compatibility API with a token. One
keep-alive connection per thread; errors are sorted into those worth retrying and those that are not.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import threading
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlencode, urlsplit, urlunsplit

from facmon.core.errors import FacmonError
from facmon.core.influxql import ident

if TYPE_CHECKING:
    from facmon.core.settings import Settings

log = logging.getLogger(__name__)


class InfluxError(FacmonError):
    """Root of InfluxDB errors."""


class InfluxUnavailable(InfluxError):
    """Connection refused or reset, timeout, or a 5xx: retry later."""


class InfluxAuthError(InfluxError):
    """401/403: wrong credentials or missing rights; retrying will not help until someone fixes them."""


class InfluxPermissionDenied(InfluxAuthError):
    """403: the credentials are right but lack a privilege (WRITE on the database, or admin to create it)."""


class InfluxDatabaseMissing(InfluxError):
    """The database does not exist."""


class InfluxRejected(InfluxError):
    """400: InfluxDB refused (some of) the request, e.g. a field type conflict or a query syntax error."""


class InfluxClient:
    def __init__(
        self,
        url: str,
        database: str,
        auth: tuple[str, str] | None = None,
        timeout: float = 10.0,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("InfluxDB URL must be http(s)://host[:port]")
        # The URL appears in log lines and error messages: never with credentials someone wrote into it.
        self.url = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])).rstrip("/")
        self.database = database
        self.timeout = timeout
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 8086)
        self._base_path = parts.path.rstrip("/")
        self._headers: dict[str, str] = {}
        if auth is not None:
            user, secret = auth
            if user:
                token = base64.b64encode(f"{user}:{secret}".encode()).decode()
                self._headers["Authorization"] = f"Basic {token}"
            else:
                self._headers["Authorization"] = f"Token {secret}"
        self._local = threading.local()


    @classmethod
    def from_settings(cls, settings: Settings, evidence: bool = False, timeout: float | None = None) -> Self:
        """A client of the readings database, or with `evidence` of the evidence database (statuses, alerts,
        reviews, the rollup), with the settings' URL and credentials; `timeout` overrides FACMON_INFLUX_TIMEOUT."""
        database = settings.evidence_db if evidence else settings.influx_db
        return cls(settings.influx_url, database, settings.influx_auth(), timeout or settings.influx_timeout)
    def __repr__(self) -> str:
        return f"InfluxClient({self.url!r}, database={self.database!r})"

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = cls(self._host, self._port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _request(
        self, method: str, path: str, params: dict[str, str], body: bytes | None = None, accept: str | None = None
    ) -> tuple[int, bytes, http.client.HTTPMessage]:
        target = f"{self._base_path}{path}?{urlencode(params)}" if params else f"{self._base_path}{path}"
        headers = dict(self._headers)
        if body is not None:
            headers["Content-Type"] = (
                "text/plain; charset=utf-8" if path == "/write" else ("application/x-www-form-urlencoded")
            )
        if accept:
            headers["Accept"] = accept
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request(method, target, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                return response.status, data, response.headers
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                # A keep-alive connection the server closed while idle: reconnect once at once.
                self.close()
                if attempt == 2:
                    raise InfluxUnavailable(f"InfluxDB at {self.url} closed the connection: {exc}") from exc
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                raise InfluxUnavailable(f"InfluxDB at {self.url} is unreachable: {exc}") from exc
        raise AssertionError("unreachable")

    @staticmethod
    def _error_text(data: bytes) -> str:
        try:
            return str(json.loads(data).get("error", data[:300].decode("utf-8", "replace")))
        except (ValueError, AttributeError):
            return data[:300].decode("utf-8", "replace")

    def _raise_for(self, status: int, data: bytes) -> None:
        if status < 300:
            return
        text = self._error_text(data)
        if status == 403:
            raise InfluxPermissionDenied(f"InfluxDB denied the request (403): {text}")
        if status == 401:
            raise InfluxAuthError(f"InfluxDB refused the credentials ({status}): {text}")
        if status == 404 and "database not found" in text:
            raise InfluxDatabaseMissing(f"database {self.database!r} does not exist")
        if status >= 500 or status == 404:
            raise InfluxUnavailable(f"InfluxDB answered {status}: {text}")
        raise InfluxRejected(f"InfluxDB answered {status}: {text}")

    def ping(self) -> str:
        """Reachability check; returns the server version InfluxDB reports."""
        status, data, headers = self._request("GET", "/ping", {})
        self._raise_for(status, data)
        return headers.get("X-Influxdb-Version", "unknown")

    def write(self, body: bytes, precision: str = "ns") -> None:
        """POST line protocol (newline-separated points) to /write."""
        status, data, _ = self._request("POST", "/write", {"db": self.database, "precision": precision}, body)
        self._raise_for(status, data)

    def query(self, q: str, database: str | None = None, epoch: str | None = None) -> list[dict[str, Any]]:
        """Run InfluxQL and return the `results` list; a statement error raises InfluxRejected."""
        params = {"q": q}
        db = self.database if database is None else database
        if db:
            params["db"] = db
        if epoch:
            params["epoch"] = epoch
        status, data, _ = self._request("POST", "/query", {}, urlencode(params).encode())
        self._raise_for(status, data)
        results: list[dict[str, Any]] = json.loads(data).get("results", [])
        for result in results:
            if "error" in result:
                raise InfluxRejected(f"query failed: {result['error']}")
        return results

    def query_csv(self, q: str, database: str | None = None, epoch: str = "ns") -> str:
        """Run InfluxQL and return InfluxDB's CSV answer (much cheaper to parse than JSON for big results)."""
        params = {"q": q, "db": self.database if database is None else database, "epoch": epoch}
        status, data, _ = self._request("POST", "/query", {}, urlencode(params).encode(), accept="application/csv")
        self._raise_for(status, data)
        text = data.decode("utf-8")
        if not text:
            # InfluxDB 1.x answers a failed statement in CSV with 200 and an empty body, as it does for no rows:
            # ask again in JSON, which carries the error (an empty result costs one more small query).
            self.query(q, database, epoch)
        elif text.startswith("name,tags,error") or ",error\n" in text[:200]:
            raise InfluxRejected(f"query failed: {text[:300]}")
        return text

    def create_database(self) -> None:
        """CREATE DATABASE is idempotent in InfluxDB; needs admin rights on 1.x."""
        self.query(f"CREATE DATABASE {ident(self.database)}", database="")

    def database_exists(self) -> bool:
        results = self.query("SHOW DATABASES", database="")
        values = [row[0] for series in results[0].get("series", []) for row in series.get("values", [])]
        return self.database in values
