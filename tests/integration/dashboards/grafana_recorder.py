"""A stand-in for Grafana's HTTP API: records every request and answers the endpoints publishing uses the way
Grafana 10/11 does (status codes and the fields clients read), keeping data sources, folders and dashboards."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class GrafanaState:
    token: str
    requests: list[Request] = field(default_factory=list)
    datasources: dict[str, dict[str, Any]] = field(default_factory=dict)
    folders: list[dict[str, Any]] = field(default_factory=list)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)

    def calls(self) -> list[tuple[str, str]]:
        return [(r.method, r.path) for r in self.requests]


class _Handler(BaseHTTPRequestHandler):
    state: GrafanaState

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        self.state.requests.append(Request(self.command, self.path, dict(self.headers), body))
        if self.headers.get("Authorization") != f"Bearer {self.state.token}":
            self._answer(401, {"message": "invalid API key"})
            return
        status, answer = self._route(self.command, self.path.split("?")[0], body)
        self._answer(status, answer)

    def _route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        state = self.state
        uid = re.fullmatch(r"/api/datasources/uid/([\w-]+)", path)
        if uid and method == "GET":
            found = state.datasources.get(uid.group(1))
            return (200, found) if found else (404, {"message": "Data source not found"})
        if uid and method == "PUT":
            found = state.datasources.get(uid.group(1))
            if found is None:
                return 404, {"message": "Data source not found"}
            if found.get("readOnly"):
                return 403, {"message": "Cannot update read-only data source"}
            found.update(body, id=found["id"])
            return 200, {"datasource": found, "id": found["id"], "message": "Datasource updated", "name": body["name"]}
        if path == "/api/datasources" and method == "POST":
            if body["uid"] in state.datasources:
                return 409, {"message": "data source with the same uid already exists"}
            stored = {**body, "id": len(state.datasources) + 1, "readOnly": False}
            state.datasources[body["uid"]] = stored
            return 200, {"datasource": stored, "id": stored["id"], "message": "Datasource added", "name": body["name"]}
        if path == "/api/folders" and method == "GET":
            return 200, state.folders
        if path == "/api/folders" and method == "POST":
            if any(f["title"] == body["title"] for f in state.folders):
                return 409, {"message": "a folder with the same name already exists"}
            folder = {"id": len(state.folders) + 1, "uid": f"f{len(state.folders) + 1}", "title": body["title"]}
            state.folders.append(folder)
            return 200, folder
        if path == "/api/dashboards/db" and method == "POST":
            dashboard = body["dashboard"]
            current = state.dashboards.get(dashboard["uid"])
            if current is not None and not body.get("overwrite"):
                return 412, {"message": "The dashboard has been changed by someone else", "status": "version-mismatch"}
            version = (current or {}).get("version", 0) + 1
            state.dashboards[dashboard["uid"]] = {"dashboard": dashboard, "folderUid": body.get("folderUid"),
                                                  "version": version}
            slug = re.sub(r"[^a-z0-9]+", "-", dashboard["title"].lower()).strip("-")
            return 200, {"id": len(state.dashboards), "uid": dashboard["uid"], "url": f"/d/{dashboard['uid']}/{slug}",
                         "status": "success", "version": version, "slug": slug}
        return 404, {"message": "Not found"}

    do_GET = do_POST = do_PUT = _handle  # noqa: N815 (http.server's names)


@contextmanager
def grafana(token: str) -> Iterator[tuple[str, GrafanaState]]:
    """A recorder on a free loopback port: (base URL, state)."""
    state = GrafanaState(token)
    handler = type("Handler", (_Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
