"""Which trust anchor (root certificate) a production's checks trust: for its log, for each delivery.

Checks never create an identity: a production that has none has no anchor, and says so.
"""

from __future__ import annotations

import json
from pathlib import Path

from reelforge.project import ProductionPaths
from reelforge.trust.identity import ROOT_CERT, default_identity_folder


def production_anchor(paths: ProductionPaths) -> Path | None:
    """The anchor the production signs under: its spec's `signing.trust_anchor`, else its own root.pem.

    Today's spec may be broken; the anchor is then the production's own root, if it has one
    (as `reelforge log verify` finds it).
    """
    from reelforge.errors import SpecError
    from reelforge.spec.load import load_production

    try:
        signing = load_production(paths.spec).signing if paths.spec.is_file() else None
    except SpecError:
        signing = None
    if signing is not None:
        candidate = Path(signing.trust_anchor)
        return candidate if candidate.is_absolute() else paths.root / candidate
    own = default_identity_folder(paths.root) / ROOT_CERT
    return own if own.is_file() else None


def recorded_anchor(credentials_json: str | None) -> Path | None:
    """The anchor recorded with a delivery when it was signed (a studio's own chain, say), if that file is there.

    A damaged record (not JSON, not an object, no path) names none.
    """
    try:
        recorded = json.loads(credentials_json).get("trust_anchor") if credentials_json else None
    except (ValueError, AttributeError):
        return None
    return Path(recorded) if isinstance(recorded, str) and recorded and Path(recorded).is_file() else None


def delivery_anchor(paths: ProductionPaths, credentials_json: str | None) -> Path | None:
    """The anchor a delivery was signed for (recorded with it), else the production's.

    As `reelforge credentials verify` finds it for a file inside the production.
    """
    return recorded_anchor(credentials_json) or production_anchor(paths)
