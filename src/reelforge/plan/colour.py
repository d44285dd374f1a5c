"""Colour science shared by planning and finishing: BT.709 luma weights, and colour-science imported cleanly."""

from __future__ import annotations

import sys

LUMA = (0.2126, 0.7152, 0.0722)  # BT.709 luma weights of linear R, G, B


def import_colour():
    """Import colour-science without leaving its matplotlib stand-ins behind.

    Without matplotlib, colour-science puts `unittest.mock.MagicMock` objects into
    `sys.modules` under matplotlib's module names; `importlib.util.find_spec` then
    raises on them, which breaks any later import that probes for matplotlib
    (diffusers does, at import). The stand-ins are removed once colour is loaded.
    """
    from unittest.mock import MagicMock  # what colour-science leaves behind; loaded only with colour itself

    import colour  # deferred: half a second to import, and only a colour temperature needs it

    for name in [n for n, m in sys.modules.items() if isinstance(m, MagicMock)]:
        del sys.modules[name]
    return colour

