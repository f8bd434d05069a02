"""Push the data source and the dashboards to a running Grafana through its HTTP API (grafana-client).

Idempotent: the data source is updated in place when its uid exists, the folder is reused when its title
exists, and dashboards are saved with ``overwrite`` by uid, so publishing twice leaves one copy of each. A data
source that Grafana's provisioning owns is read-only through the API and is left as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dashboards.model import JSON
from dashboards.provisioning import InfluxSource, datasources
from facmon.core.errors import FacmonError

log = logging.getLogger(__name__)

MESSAGE = "published by facmon dashboards publish"
INSTALL_HINT = "publishing needs grafana-client: pip install 'facmon[grafana]'"


class PublishError(FacmonError, RuntimeError):
    """Grafana refused or could not be reached; the message never carries the token."""


@dataclass(slots=True)
class Report:
    datasource: str = ""
    folder: str | None = None
    dashboards: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"data source: {self.datasource}"]
        if self.folder:
            out.append(f"folder: {self.folder}")
        out += [f"dashboard: {url}" for url in self.dashboards]
        return out


def connect(url: str, token: str, timeout: float = 10.0) -> Any:
    try:
        from grafana_client import GrafanaApi
    except ImportError:
        raise PublishError(INSTALL_HINT) from None
    if not url.startswith(("http://", "https://")):
        raise PublishError("the Grafana URL must start with http:// or https://")
    return GrafanaApi.from_url(url=url.rstrip("/"), credential=token, timeout=timeout)


def _publish_datasources(api: Any, source: InfluxSource) -> str:
    return "; ".join(f"{payload['name']} {_publish_datasource(api, payload)}" for payload in datasources(source))


def _publish_datasource(api: Any, payload: JSON) -> str:
    from grafana_client.client import GrafanaClientError

    try:
        existing = api.datasource.get_datasource_by_uid(payload["uid"])
    except GrafanaClientError as exc:
        if exc.status_code != 404:
            raise
        api.datasource.create_datasource(payload)
        return "created"
    if existing.get("readOnly"):
        return "left as it is (provisioned, read-only)"
    api.datasource.update_datasource_by_uid(payload["uid"], payload)
    return "updated"


def _folder_uid(api: Any, title: str) -> tuple[str, str]:
    for folder in api.folder.get_all_folders():
        if folder.get("title") == title:
            return str(folder["uid"]), "reused"
    created = api.folder.create_folder(title)
    return str(created["uid"]), "created"


def publish(api: Any, models: Mapping[str, JSON], source: InfluxSource | None, folder: str | None) -> Report:
    """Data sources (unless ``source`` is None), folder, then every dashboard, overwriting by uid."""
    from grafana_client.client import GrafanaException

    report = Report()
    try:
        report.datasource = "skipped" if source is None else _publish_datasources(api, source)
        folder_uid = None
        if folder:
            folder_uid, state = _folder_uid(api, folder)
            report.folder = f"{folder} ({state})"
        for model in models.values():
            body: JSON = {"dashboard": {**model, "id": None}, "overwrite": True, "message": MESSAGE}
            if folder_uid is not None:
                body["folderUid"] = folder_uid
            answer = api.dashboard.update_dashboard(body)
            report.dashboards.append(str(answer.get("url") or model["uid"]))
    except GrafanaException as exc:
        raise PublishError(f"Grafana answered {exc.status_code}: {exc.message}") from None
    except OSError as exc:
        raise PublishError(f"Grafana is unreachable: {exc}") from None
    finally:
        api.client.s.close()
    return report
