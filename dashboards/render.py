"""Render the dashboards and provisioning files from code, and find where the committed files differ.

The dashboards are rendered once per language from the same code (every title, name and description goes through
facmon.core.i18n), into dashboards/<language>/: Grafana is given one language's directory (docker-compose.yml
mounts dashboards/${FACMON_LANGUAGE:-en}), since both sets share their uids.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from dashboards import detail, overview, pipeline, provisioning
from dashboards.model import JSON, Dashboard
from facmon.core import i18n

DASHBOARDS_DIR = Path(__file__).resolve().parent
BUILDERS: dict[str, Callable[[], Dashboard]] = {
    "overview.json": overview.build,
    "facility.json": detail.build,
    "pipeline.json": pipeline.build,
}


def dashboards(language: str = i18n.ENGLISH) -> dict[str, JSON]:
    """File name -> dashboard model in `language`, in a fixed order."""
    with i18n.using(language):
        return {name: build().to_json() for name, build in BUILDERS.items()}


def dashboard_text(model: JSON) -> str:
    """Stable JSON text: sorted keys, two-space indent, UTF-8 kept readable, final newline."""
    return json.dumps(model, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def rendered_files() -> dict[Path, str]:
    """Relative path -> content of every generated file."""
    files = {Path(language, name): dashboard_text(model)
             for language in i18n.LANGUAGES for name, model in dashboards(language).items()}
    files[Path("provisioning/datasources/facmon.yaml")] = provisioning.datasource_yaml()
    files[Path("provisioning/dashboards/facmon.yaml")] = provisioning.provider_yaml()
    return files


def render(directory: Path = DASHBOARDS_DIR) -> list[Path]:
    """Write every generated file under ``directory``; returns the files whose content changed."""
    changed = []
    for relative, text in rendered_files().items():
        path = directory / relative
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        changed.append(path)
    return changed


def drift(directory: Path = DASHBOARDS_DIR) -> list[str]:
    """Generated files that are missing or differ from what the code renders, one line each."""
    problems = []
    for relative, text in rendered_files().items():
        path = directory / relative
        if not path.exists():
            problems.append(f"{relative}: missing; run `facmon dashboards render`")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{relative}: differs from what the code renders; run `facmon dashboards render`")
    return problems
