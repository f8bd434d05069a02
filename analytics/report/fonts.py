"""A CJK font for the report's charts, so Chinese titles, legends and names are drawn as glyphs, not boxes.

matplotlib's default font (DejaVu Sans) has no Chinese. Set-up installs Noto Sans CJK (Debian's fonts-noto-cjk);
this finds it, or another CJK font the machine has, through matplotlib's font manager and puts it first in the
sans-serif list, DejaVu Sans after it for the Latin and symbols it lacks. Without any, the charts still draw (in
the default font, Chinese as boxes) and one warning says what to install.
"""

from __future__ import annotations

import logging
from functools import cache

log = logging.getLogger(__name__)

#: The CJK fonts tried, best first: what set-up installs, then what Chinese desktops commonly have.
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "Microsoft YaHei",
             "SimHei", "PingFang SC")


@cache
def use_cjk_font() -> str | None:
    """Make matplotlib draw with the first CJK font installed; its name, or None (with a warning) if none is."""
    import matplotlib
    from matplotlib import font_manager

    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    found = next((name for name in CJK_FONTS if name in installed), None)
    if found is None:
        log.warning("no CJK font found for the report's charts (tried %s): Chinese text in them shows as boxes; "
                    "install fonts-noto-cjk", ", ".join(CJK_FONTS))
        return None
    rest = [name for name in matplotlib.rcParams["font.sans-serif"] if name != found]
    matplotlib.rcParams["font.sans-serif"] = [found, *rest]
    matplotlib.rcParams["font.family"] = "sans-serif"
    matplotlib.rcParams["axes.unicode_minus"] = False  # CJK fonts often lack U+2212
    return found
