"""Signing: C2PA Content Credentials on a delivered file, always the last step to touch its bytes.

A signed file differs on every signing (fresh ids and nonces), so the determinism promise is on
the unsigned bytes before this step; the signature is checked on its own (trust/credentials.py).
A delivery with an invisible mark also carries the mark's soft-binding assertion, so a C2PA
reader can find the manifest of a copy whose own manifest was stripped.
"""

from __future__ import annotations

from pathlib import Path

from reelforge.deliver.options import DeliveryOptions
from reelforge.trust.credentials import read_credentials, sign_file, summarize
from reelforge.trust.mark import soft_binding_assertion


def sign(unsigned: Path, target: Path, options: DeliveryOptions, assertion: dict, title: str) -> dict | None:
    """Sign `unsigned` into `target` (the last step); returns the credentials summary, or None unsigned."""
    if options.identity is None:
        unsigned.replace(target)
        return None
    extra = [soft_binding_assertion(options.mark_id, options.mark_key)] if options.mark_id is not None else []
    sign_file(unsigned, target, options.identity, assertion=assertion, title=title,
              extra_assertions=extra, tsa_url=options.tsa_url)
    unsigned.unlink(missing_ok=True)
    store = read_credentials(target)
    return summarize(store) if store else None
