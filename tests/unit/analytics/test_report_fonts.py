"""The report's charts find a CJK font even when it was installed after matplotlib cached the machine's fonts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import server_missing


def run(code: str, config: Path) -> str:
    """`code` in a fresh Python whose matplotlib keeps its font cache in `config`."""
    env = {**os.environ, "MPLCONFIGDIR": str(config)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                          check=True)
    return done.stdout.strip()


def test_a_cjk_font_installed_after_matplotlib_cached_its_font_list_is_found(tmp_path):
    listed = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=False)
    if "Noto Sans CJK SC" not in listed.stdout:
        server_missing("no Noto Sans CJK SC on this machine (scripts/setup.sh installs fonts-noto-cjk as root)")
    run("import matplotlib.font_manager", tmp_path)  # the cache, as a first chart before set-up would leave it
    [cache] = tmp_path.glob("fontlist-*.json")
    fonts = json.loads(cache.read_text(encoding="utf-8"))
    fonts["ttflist"] = [entry for entry in fonts["ttflist"] if "CJK" not in entry["name"]]  # not installed then
    cache.write_text(json.dumps(fonts), encoding="utf-8")
    assert run("import matplotlib.font_manager as m; print(any('CJK' in e.name for e in m.fontManager.ttflist))",
               tmp_path) == "False"  # matplotlib trusts its cache
    assert run("from analytics.report.fonts import use_cjk_font; print(use_cjk_font())", tmp_path) == "Noto Sans CJK SC"
