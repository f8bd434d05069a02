"""A CJK font for the report's charts, so Chinese titles, legends and names are drawn as glyphs, not boxes.

matplotlib's default font (DejaVu Sans) has no Chinese. Set-up installs Noto Sans CJK (Debian's fonts-noto-cjk);
this finds it, or another CJK font the machine has, through matplotlib's font manager and puts it first in the
sans-serif list, DejaVu Sans after it for the Latin and symbols it lacks. Without any, the charts still draw (in
the default font, Chinese as boxes) and one warning says what to install.

matplotlib lists the machine's fonts once and keeps the list in its cache (~/.cache/matplotlib): a font installed
after that — set-up installing fonts-noto-cjk on a machine that had drawn a chart before — is not in the list.
When no CJK font is, the fonts the machine has and the list lacks are added before giving up.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.font_manager import FontManager

log = logging.getLogger(__name__)

#: The CJK fonts tried, best first: what set-up installs, then what Chinese desktops commonly have.
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "Microsoft YaHei",
             "SimHei", "PingFang SC")


@cache
def use_cjk_font() -> str | None:
    """Make matplotlib draw with the first CJK font installed; its name, or None (with a warning) if none is."""
    import matplotlib
    from matplotlib import font_manager

    found = _first_cjk(font_manager.fontManager)
    if found is None:
        _add_fonts_installed_since(font_manager.fontManager)
        found = _first_cjk(font_manager.fontManager)
    if found is None:
        log.warning("no CJK font found for the report's charts (tried %s): Chinese text in them shows as boxes; "
                    "install fonts-noto-cjk", ", ".join(CJK_FONTS))
        return None
    rest = [name for name in matplotlib.rcParams["font.sans-serif"] if name != found]
    matplotlib.rcParams["font.sans-serif"] = [found, *rest]
    matplotlib.rcParams["font.family"] = "sans-serif"
    matplotlib.rcParams["axes.unicode_minus"] = False  # CJK fonts often lack U+2212
    return found


def _first_cjk(manager: FontManager) -> str | None:
    installed = {entry.name for entry in manager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def _add_fonts_installed_since(manager: FontManager) -> None:
    """Add the machine's font files that matplotlib's cached list lacks (for this process; the cache stays)."""
    from matplotlib.font_manager import findSystemFonts

    known = {entry.fname for entry in manager.ttflist}
    for path in findSystemFonts():
        if path not in known:
            try:
                manager.addfont(path)
            except (OSError, RuntimeError, ValueError) as exc:  # a file FreeType cannot read
                log.debug("font %s not added: %s", path, exc)
