"""Which trust anchor (root certificate) a production's checks trust: for its log, for each delivery.

Checks never create an identity: a production that has none has no anchor, and says so.
"""

from __future__ import annotations

import json
from pathlib import Path

from reelforge.errors import SpecError
from reelforge.spec.load import load_production
from reelforge.store.catalog import Catalog
from reelforge.store.hashing import file_sha256
from reelforge.store.paths import ProductionPaths
from reelforge.trust.identity import ROOT_CERT, CredentialsError, default_identity_folder


def production_anchor(paths: ProductionPaths) -> Path | None:
    """The anchor the production signs under: its spec's `signing.trust_anchor`, else its own root.pem.

    Today's spec may be broken; the anchor is then the production's own root, if it has one
    (as `reelforge log verify` finds it).
    """
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


def find_anchor(file: Path, trust: Path | None = None, production_identity: Path | None = None) -> Path:
    """The anchor to check a file against: `trust` (a PEM file), else the root of `production_identity` (an
    identity folder or a production folder), else the one recorded when the file was signed, else the identity
    of the production the file sits in. CredentialsError says what to pass when there is none."""
    if trust is not None:
        return Path(trust)
    if production_identity is not None:
        folder = Path(production_identity)
        for candidate in (folder, folder / ROOT_CERT, default_identity_folder(folder) / ROOT_CERT):
            if candidate.is_file():
                return candidate
        raise CredentialsError(f"{folder}: no {ROOT_CERT} here (give an identity folder, a production folder "
                               "or a certificate file)")
    paths = ProductionPaths.find_for_file(file)
    recorded = _anchor_recorded_for(paths, file) if paths is not None else None
    if recorded is not None:  # the anchor this delivery was signed for (a studio's own chain, say)
        return recorded
    if paths is not None and (default_identity_folder(paths.root) / ROOT_CERT).is_file():
        return default_identity_folder(paths.root) / ROOT_CERT
    raise CredentialsError(f"{file}: no trust anchor: give --trust ROOT.pem or --production-identity FOLDER "
                           "(the file is not inside a production with an identity)")


def _anchor_recorded_for(paths: ProductionPaths, file: Path) -> Path | None:
    """The trust anchor the production's catalog recorded when it signed exactly this file, if any."""
    if not paths.catalog.exists():
        return None
    with Catalog(paths.catalog) as catalog:
        record = catalog.render_for_file(file_sha256(file))
        delivery = catalog.delivery(record.id) if record is not None else None
    return recorded_anchor(delivery.credentials_json) if delivery is not None else None
