"""Content Credentials (C2PA): sign delivered files, read and verify them, offline.

Every delivered MP4 and exported still is signed as the last step: any remux or re-save after
signing drops or breaks the manifest. The manifest carries

* a `c2pa.actions.v2` assertion whose `c2pa.created` action declares the digital source type
  `trainedAlgorithmicMedia` (IPTC: "created by a trained model"); or, for a file made by editing
  another (`parent`: footage a watermark was burned into), `c2pa.opened` on the parent, kept as a
  `parentOf` ingredient with its own credentials inside, then `c2pa.edited`, and no source type
  claim (reelforge did not generate that footage),
* `org.reelforge.unhashed-boxes` for an MP4: the top-level boxes the C2PA hash leaves out, so a
  box added after signing is caught (see `unhashed_boxes.py`),
* `org.reelforge.render`: the render record the caller passes (prompts, seeds, backend, checkpoint
  hash, job keys, environment fingerprint, ...): any JSON-able dict, stored as a JSON assertion,
* optional extra assertions (`{"label": ..., "data": ...}`, e.g. `c2pa.soft-binding`).

Nothing here touches the network: no timestamp authority unless `tsa_url` is given, no remote
manifest fetch, no OCSP. Without a timestamp a verifier checks the signing certificate against
today's date, so the leaf is issued for years (see `identity.py`).

A signed file is never byte-identical twice: the manifest holds fresh UUIDs and an ECDSA
signature with a random nonce (Ed25519 is deterministic, but the UUIDs still differ). Both
signings verify. The determinism promise is on frames and the unsigned video stream.

Re-signing a signed file replaces its credentials (the old manifest is not kept as history).

Library quirk handled here: c2pa-rs 0.91's `Reader.json()` turns every array of numbers inside a
custom assertion into base64 "bytes" (truncating values above 255: `[1, 2, 300]` reads back as
"AQIs"). The file holds the right values; `read_credentials` takes custom assertions from the
crJSON rendering, which keeps them exact. Other tools that print `Reader.json()` (c2patool) show
the mangled form.
"""

from __future__ import annotations

import json
import math
import mimetypes
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reelforge import __version__
from reelforge.trust import unhashed_boxes
from reelforge.trust.identity import CredentialsError, Identity

RENDER_LABEL = "org.reelforge.render"
CREATED = "c2pa.created"
OPENED = "c2pa.opened"
EDITED = "c2pa.edited"  # not `c2pa.watermarked`: C2PA 2.x keeps that for invisible, soft-binding watermarks
PARENT_LABEL = "parent"  # the parent ingredient's name inside the manifest definition (c2pa resolves it)
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
GENERATOR = "reelforge"

# Labels the SDK writes itself, or that sign_file writes: a caller's extra assertion may not use them.
RESERVED_LABELS = ("c2pa.actions", "c2pa.actions.v2", "c2pa.hash.data", "c2pa.hash.bmff", "c2pa.hash.bmff.v2",
                   "c2pa.hash.bmff.v3", "c2pa.hash.boxes", "c2pa.hash.collection.data", "c2pa.ingredient",
                   "c2pa.ingredient.v2", "c2pa.ingredient.v3", "c2pa.thumbnail.claim", RENDER_LABEL,
                   unhashed_boxes.UNHASHED_LABEL)
STANDARD_PREFIXES = ("c2pa.", "stds.", "cawg.")  # the rest are custom assertions (see the module note)

STATES = ("Trusted", "Valid", "Invalid", "unsigned", "unverified")
INT64 = (-(2 ** 63), 2 ** 63 - 1)


__all__ = [
    "RENDER_LABEL",
    "TRAINED_ALGORITHMIC_MEDIA",
    "CredentialsError",
    "VerifyResult",
    "format_credentials",
    "manifest_failures",
    "read_credentials",
    "sign_file",
    "summarize",
    "verify_credentials",
]


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of checking one file against one trust anchor.

    `ok` only when the signature is valid, the media hash matches and the signing chain leads to
    the given anchor (C2PA state "Trusted" with no failure). `state`: "Trusted", "Valid" (intact
    but not signed by a certificate under the anchor), "Invalid" (tampered or broken, including a
    box the C2PA hash leaves out that changed after signing: see `unhashed_boxes`), "unsigned"
    (no manifest), "unverified" (the manifest lives at a remote URL and fetching is off).
    """

    path: Path
    ok: bool
    state: str
    failures: list[tuple[str, str]] = field(default_factory=list)  # (C2PA status code, explanation)
    summary: dict | None = None


# --- settings -------------------------------------------------------------------------------------

def _settings(trust_anchor_pem: bytes | str | None, *, verify_trust: bool,
              created_labels: Sequence[str] = ()) -> dict:
    """c2pa settings that keep everything offline; the anchor is the only trusted root.

    The SDK silently ignores unknown keys, so the offline behaviour is covered by a test (a local
    HTTP server that must see no request), not just by these names.
    """
    anchor = trust_anchor_pem.decode() if isinstance(trust_anchor_pem, bytes) else trust_anchor_pem
    return {
        "version": 1,
        "core": {"allowed_network_hosts": [], "backing_store_memory_threshold_in_mb": 64},
        "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False, "verify_trust": verify_trust,
                   "verify_after_reading": True, "verify_after_sign": True},
        # trust_anchors replaces the SDK's own list: a file is Trusted only under this anchor.
        "trust": {"trust_anchors": anchor, "user_anchors": None, "allowed_list": None},
        "builder": {"claim_generator_info": {"name": GENERATOR, "version": __version__},
                    "thumbnail": {"enabled": False},  # no re-encoded copy of a 4K still in every manifest
                    "created_assertion_labels": ["c2pa.actions", *created_labels]},
    }


def _c2pa():
    """The c2pa module. Deferred: its native library takes ~0.1 s to load, and most commands never sign or read."""
    import c2pa

    return c2pa


def _context(settings: dict):
    c2pa = _c2pa()
    return c2pa.Context.from_dict(settings)


# --- media sniffing -------------------------------------------------------------------------------

MEDIA_HINT = "expected an MP4/MOV video or a PNG, JPEG or WebP image"


def media_type(path: Path) -> str:
    """The MIME type of a file Content Credentials can live in, from its first bytes.

    Raises `CredentialsError` for a missing or unreadable file, a folder, or anything else.
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(16)
    except FileNotFoundError:
        raise CredentialsError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise CredentialsError(f"{path}: is a folder, not a media file") from None
    except OSError as exc:
        raise CredentialsError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return "video/quicktime"
        if brand in (b"avif", b"avis"):
            return "image/avif"
        if brand in (b"heic", b"heix", b"mif1", b"msf1"):
            return "image/heif"
        return "video/mp4"
    raise CredentialsError(f"{path}: not a media file Content Credentials can be read from ({MEDIA_HINT})")


# --- signing --------------------------------------------------------------------------------------

def sign_file(source: Path, dest: Path, identity: Identity, *, assertion: Mapping[str, Any], title: str,
              ingredients: Iterable[Path | str] | None = None, extra_assertions: Sequence[Mapping] | None = None,
              tsa_url: str | None = None, parent: Path | None = None, edit: str = "") -> Path:
    """Sign `source` into `dest` (which may be `source`): the last step before delivery.

    `assertion` becomes `org.reelforge.render` (any JSON-able dict; integers within signed 64 bit).
    `extra_assertions`: more `{"label", "data"}` assertions (e.g. `c2pa.soft-binding`).
    `ingredients`: files this one was made from (recorded as `componentOf` ingredients).
    `parent`: the file `source` was edited from (footage a watermark was burned into): the manifest
    then says `c2pa.opened` (parent) and `c2pa.edited` (`edit` describes it) instead of claiming the
    file was generated; the parent's own credentials, if any, are kept inside its ingredient.
    `tsa_url`: a timestamp authority (network); None (the default) stays offline.
    The write is atomic: a temp file beside `dest`, then a rename.
    """
    c2pa = _c2pa()
    source, dest = Path(source), Path(dest)
    mime = media_type(source)
    parent_type = _parent_type(Path(parent)) if parent is not None else None
    manifest = _manifest_definition(assertion, title, extra_assertions, _actions(parent is not None, edit))
    boxes = unhashed_boxes.record(source, mime)
    if boxes is not None:
        manifest["assertions"].append({"label": unhashed_boxes.UNHASHED_LABEL, "kind": "Json", "data": boxes})
    if parent is not None and parent_type is None:  # c2pa cannot read it: named and typed, not hashed
        manifest["ingredients"] = [{"title": Path(parent).name, "relationship": "parentOf", "label": PARENT_LABEL,
                                    "format": mimetypes.guess_type(Path(parent).name)[0] or "application/octet-stream"}]
    created = [a["label"] for a in manifest["assertions"] if a["label"] != "c2pa.actions.v2"]
    ingredient_paths = [Path(p) for p in ingredients or ()]
    ingredient_types = [media_type(p) for p in ingredient_paths]
    if not dest.parent.is_dir():
        raise CredentialsError(f"{dest.parent}: output folder does not exist")

    fd, temp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.tmp-")
    temp = Path(temp_name)
    try:
        signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(identity.algorithm.encode(), identity.chain_pem,
                                                           identity.key_pem, tsa_url))
        try:
            with (_context(_settings(identity.trust_anchor_pem, verify_trust=False, created_labels=created)) as ctx,
                  c2pa.Builder(manifest, context=ctx) as builder):
                if parent is not None and parent_type is not None:
                    with Path(parent).open("rb") as stream:
                        builder.add_ingredient({"title": Path(parent).name, "relationship": "parentOf",
                                                "label": PARENT_LABEL}, parent_type, stream)
                for path, kind in zip(ingredient_paths, ingredient_types):
                    with path.open("rb") as stream:
                        builder.add_ingredient({"title": path.name, "relationship": "componentOf"}, kind, stream)
                with source.open("rb") as src, os.fdopen(fd, "w+b") as out:
                    fd = -1
                    builder.sign(signer, mime, src, out)
                    out.flush()
                    os.fsync(out.fileno())
        finally:
            signer.close()
        os.chmod(temp, _file_mode(dest if dest.exists() else None))
        os.replace(temp, dest)
    except c2pa.C2paError as exc:
        raise CredentialsError(f"{source}: signing failed: {_c2pa_message(exc)}") from None
    except OSError as exc:
        raise CredentialsError(f"{dest}: cannot write the signed file: {exc.strerror or exc}") from None
    finally:
        if fd != -1:
            os.close(fd)
        temp.unlink(missing_ok=True)
    return dest


def _parent_type(parent: Path) -> str | None:
    """The parent's MIME type when c2pa can read it (its bytes hashed, its credentials kept), else None."""
    if not parent.is_file():
        raise CredentialsError(f"{parent}: file not found")
    try:
        return media_type(parent)
    except CredentialsError:
        return None


def _actions(edited: bool, edit: str) -> list[dict]:
    """What was done: generated by reelforge, or a parent opened and edited (no claim on how it was made)."""
    agent = {"name": GENERATOR, "version": __version__}
    if not edited:
        return [{"action": CREATED, "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA, "softwareAgent": agent}]
    return [{"action": OPENED, "parameters": {"ingredientIds": [PARENT_LABEL]}},
            {"action": EDITED, "softwareAgent": agent, **({"description": edit} if edit else {})}]


def _manifest_definition(assertion: Mapping[str, Any], title: str, extra: Sequence[Mapping] | None,
                         actions: list[dict]) -> dict:
    if not isinstance(assertion, Mapping):
        raise CredentialsError(f"the {RENDER_LABEL} assertion must be a dict, got {type(assertion).__name__}")
    assertions = [
        {"label": "c2pa.actions.v2", "data": {"actions": actions}},
        {"label": RENDER_LABEL, "kind": "Json", "data": _json_value(dict(assertion), RENDER_LABEL)},
    ]
    seen = {RENDER_LABEL}
    for index, item in enumerate(extra or ()):
        if not isinstance(item, Mapping) or not isinstance(item.get("label"), str) or "data" not in item:
            raise CredentialsError(f"extra_assertions[{index}]: expected {{'label': str, 'data': ...}}")
        label = item["label"]
        if label in RESERVED_LABELS or label in seen:
            raise CredentialsError(f"extra_assertions[{index}]: label {label!r} is reserved or repeated")
        seen.add(label)
        entry = {"label": label, "data": _json_value(item["data"], label)}
        if "kind" in item:
            entry["kind"] = item["kind"]
        elif not label.startswith(STANDARD_PREFIXES):
            entry["kind"] = "Json"  # custom data stays plain JSON in the file
        assertions.append(entry)
    return {"claim_generator_info": [{"name": GENERATOR, "version": __version__}], "title": str(title),
            "assertions": assertions}


def _json_value(value: Any, where: str) -> Any:
    """Check that `value` survives the trip through the manifest unchanged; return it."""
    def walk(item: Any, path: str) -> None:
        if isinstance(item, bool) or item is None or isinstance(item, str):
            return
        if isinstance(item, int):
            if not INT64[0] <= item <= INT64[1]:
                raise CredentialsError(f"{path}: integer {item} does not fit in 64 bits; store it as a string")
            return
        if isinstance(item, float):
            if not math.isfinite(item):
                raise CredentialsError(f"{path}: {item} is not valid JSON")
            return
        if isinstance(item, Mapping):
            for key, child in item.items():
                if not isinstance(key, str):
                    raise CredentialsError(f"{path}: key {key!r} is not a string")
                walk(child, f"{path}.{key}")
            return
        if isinstance(item, (list, tuple)):
            for i, child in enumerate(item):
                walk(child, f"{path}[{i}]")
            return
        raise CredentialsError(f"{path}: {type(item).__name__} is not JSON (convert it to a string or number)")

    walk(value, where)
    return json.loads(json.dumps(value))  # tuples → lists, a private copy


def _file_mode(existing: Path | None) -> int:
    if existing is not None:
        return existing.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


# --- reading --------------------------------------------------------------------------------------

class _Unreadable(Exception):
    def __init__(self, code: str, explanation: str) -> None:
        super().__init__(explanation)
        self.code = code
        self.explanation = explanation


def _read_store(path: Path, trust_anchor_pem: bytes | str | None) -> dict | None:
    """The manifest store as a dict (custom assertions exact), None when unsigned.

    Raises `CredentialsError` (not media) or `_Unreadable` (a manifest is there but cannot be read).
    """
    c2pa = _c2pa()
    path = Path(path)
    mime = media_type(path)
    settings = _settings(trust_anchor_pem, verify_trust=trust_anchor_pem is not None)
    try:
        with _context(settings) as ctx, path.open("rb") as stream:
            reader = c2pa.Reader.try_create(mime, stream, context=ctx)
            if reader is None:
                return None
            with reader:
                store = json.loads(reader.json())
                exact = json.loads(reader.crjson())
    except c2pa.C2paError as exc:
        message = _c2pa_message(exc)
        if message.startswith("Remote:"):
            raise _Unreadable("manifest.remote", "the credentials are stored at a remote URL and reelforge "
                              f"does not fetch them (offline): {message.removeprefix('Remote:').strip()}") from None
        if "asset could not be parsed" in message or message.startswith("Io:"):
            raise _Unreadable("asset.malformed", f"the file's structure is broken: {message}") from None
        raise _Unreadable("manifest.malformed", f"the manifest cannot be read: {message}") from None
    _restore_custom_assertions(store, exact)
    _check_unhashed_boxes(store, path, mime)
    return store


def _check_unhashed_boxes(store: dict, path: Path, mime: str) -> None:
    """A box added, changed or removed where the C2PA hash does not look makes the file Invalid (see unhashed_boxes)."""
    manifest = store.get("manifests", {}).get(store.get("active_manifest"))
    if not manifest:
        return
    problems = unhashed_boxes.changes(path, mime, manifest)
    if not problems:
        return
    store["validation_state"] = "Invalid"
    found = [{"code": code, "explanation": text} for code, text in problems]
    if store.get("validation_results"):
        store["validation_results"].setdefault("activeManifest", {}).setdefault("failure", []).extend(found)
    else:  # older stores: the flat list manifest_failures reads
        store.setdefault("validation_status", []).extend(found)


def read_credentials(path: Path) -> dict | None:
    """The parsed manifest store (Reader JSON shape), or None when the file carries none.

    Signature and hashes are checked (see `validation_state`), trust is not: use
    `verify_credentials` for that. Raises `CredentialsError` for a missing or non-media file or a
    manifest that cannot be read.
    """
    try:
        return _read_store(Path(path), None)
    except _Unreadable as exc:
        raise CredentialsError(f"{path}: {exc.explanation}") from None


def _restore_custom_assertions(store: dict, exact: dict) -> None:
    """Put back custom assertions' data from crJSON (see the module note on the Reader.json quirk)."""
    by_label = {m.get("label"): m.get("assertions", {}) for m in exact.get("manifests", []) if isinstance(m, dict)}
    for label, manifest in store.get("manifests", {}).items():
        exact_assertions = by_label.get(label) or {}
        for item in manifest.get("assertions", []):
            name = item.get("label", "")
            if name.startswith(STANDARD_PREFIXES):
                continue
            instance = item.get("instance", 1)
            key = name if instance in (None, 1) else f"{name}__{instance}"
            if key in exact_assertions:
                item["data"] = exact_assertions[key]


# --- verifying ------------------------------------------------------------------------------------

def verify_credentials(path: Path, trust_anchor_pem: bytes | str) -> VerifyResult:
    """Check `path`'s Content Credentials: signature, media hash, chain up to `trust_anchor_pem`.

    Never raises for a tampered or unsigned file (see `VerifyResult.state`); raises
    `CredentialsError` only for a missing file or one that is not media.
    """
    path = Path(path)
    if not trust_anchor_pem:
        raise CredentialsError("verifying needs a trust anchor (the production's root.pem)")
    try:
        store = _read_store(path, trust_anchor_pem)
    except _Unreadable as exc:
        state = "unverified" if exc.code == "manifest.remote" else "Invalid"
        return VerifyResult(path, False, state, [(exc.code, exc.explanation)], None)
    if store is None:
        return VerifyResult(path, False, "unsigned", [], None)
    failures = manifest_failures(store)
    state = store.get("validation_state") or ("Invalid" if failures else "Valid")
    ok = state == "Trusted" and not failures
    return VerifyResult(path, ok, state, failures, summarize(store))


def manifest_failures(store: dict) -> list[tuple[str, str]]:
    results = store.get("validation_results") or {}
    failures = [(f.get("code", "?"), f.get("explanation", "")) for f in
                (results.get("activeManifest") or {}).get("failure", [])]
    for delta in results.get("ingredientDeltas") or []:
        uri = delta.get("ingredientAssertionURI", "ingredient")
        for f in (delta.get("validationDeltas") or {}).get("failure", []):
            failures.append((f.get("code", "?"), f"{uri}: {f.get('explanation', '')}"))
    if not results:  # older stores: a flat list of statuses
        failures += [(s.get("code", "?"), s.get("explanation", "")) for s in store.get("validation_status", [])]
    return failures


def summarize(store: dict) -> dict:
    """The facts a person asks about a signed file, from its active manifest."""
    return _summarize_manifest(store, store.get("active_manifest"), with_parent=True)


def _summarize_manifest(store: dict, label: str | None, *, with_parent: bool) -> dict:
    manifest = store.get("manifests", {}).get(label, {})
    signature = manifest.get("signature_info") or {}
    generator = (manifest.get("claim_generator_info") or [{}])[0]
    actions = [action for item in manifest.get("assertions", [])
               if item.get("label") in ("c2pa.actions", "c2pa.actions.v2")
               for action in (item.get("data") or {}).get("actions", [])]
    created = next((action for action in actions if action.get("action") == CREATED), None)
    render = next((a.get("data") for a in manifest.get("assertions", []) if a.get("label") == RENDER_LABEL), None)
    parent = next((i for i in manifest.get("ingredients", []) if i.get("relationship") == "parentOf"), None)
    return {
        "title": manifest.get("title"),
        "format": manifest.get("format"),
        "manifest": store.get("active_manifest"),
        "validation_state": store.get("validation_state"),
        "signer": signature.get("common_name"),
        "issuer": signature.get("issuer"),
        "algorithm": signature.get("alg"),
        "signed_at": signature.get("time"),  # only with a timestamp authority
        "claim_generator": " ".join(str(generator[k]) for k in ("name", "version") if generator.get(k)) or None,
        "created_action": created,
        "digital_source_type": (created or {}).get("digitalSourceType"),
        "actions": [{k: action[k] for k in ("action", "description", "digitalSourceType") if action.get(k)}
                    for action in actions],
        # the file this one was edited from, with what its own credentials (kept inside) claim
        "parent": None if parent is None or not with_parent else {
            "title": parent.get("title"), "format": parent.get("format"),
            "credentials": _summarize_manifest(store, parent["active_manifest"], with_parent=False)
            if parent.get("active_manifest") in store.get("manifests", {}) else None,
            # what c2pa found wrong with them when the parent was opened (its credentials are kept as they were)
            "failures": [f.get("code") for f in ((parent.get("validation_results") or {})
                                                 .get("activeManifest") or {}).get("failure", [])]},
        "reelforge": render,
        "assertions": [a.get("label") for a in manifest.get("assertions", [])],
        "ingredients": [i.get("title") for i in manifest.get("ingredients", [])],
        "manifest_count": len(store.get("manifests", {})),
    }


def format_credentials(summary: Mapping[str, Any], failures: Sequence[tuple[str, str]] = ()) -> str:
    """Readable text for `reelforge credentials show FILE` (no markup)."""
    source_type = summary.get("digital_source_type") or ""
    short = source_type.rsplit("/", 1)[-1] if source_type else "not declared"
    if source_type == TRAINED_ALGORITHMIC_MEDIA:
        short += " (generated by a trained model)"
    signer = summary.get("signer") or "unknown"
    if summary.get("issuer"):
        signer += f" (issued by {summary['issuer']})"
    state = summary.get("validation_state") or "?"
    if state == "Valid":
        state += " (signature and hashes intact; trust not checked: use `reelforge credentials verify`)"
    rows = [
        ("state", state),
        ("title", summary.get("title")),
        ("signed by", signer),
        ("algorithm", summary.get("algorithm")),
        ("signed at", summary.get("signed_at") or "no trusted timestamp (signed offline)"),
        ("generator", summary.get("claim_generator")),
        ("source type", short),
        ("assertions", ", ".join(a for a in summary.get("assertions") or [] if a)),
    ]
    if summary.get("actions"):
        rows.append(("actions", "; ".join(_action_text(a) for a in summary["actions"])))
    if summary.get("ingredients"):
        rows.append(("ingredients", ", ".join(str(i) for i in summary["ingredients"])))
    parent = summary.get("parent")
    if parent:
        rows.append(("edited from", _parent_text(parent)))
    width = max(len(name) for name, _ in rows)
    lines = ["Content Credentials"]
    lines += [f"  {name.ljust(width)}  {value}" for name, value in rows if value not in (None, "")]
    render = summary.get("reelforge")
    if render:
        lines.append(f"  {RENDER_LABEL}:")
        for key, value in render.items():
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            lines.append(f"    {key}: {text}")
    if failures:
        lines.append("  failures:")
        lines += [f"    {code}: {explanation}" for code, explanation in failures]
    return "\n".join(lines)


def _action_text(action: Mapping[str, Any]) -> str:
    text = str(action.get("action"))
    if action.get("digitalSourceType"):
        text += f" ({str(action['digitalSourceType']).rsplit('/', 1)[-1]})"
    if action.get("description"):
        text += f": {action['description']}"
    return text


def _parent_text(parent: Mapping[str, Any]) -> str:
    """The parent ingredient in one line: its name and what its own credentials said, if it had any."""
    own = parent.get("credentials")
    if not own:
        return f"{parent.get('title')} (no Content Credentials of its own)"
    said = ", ".join(_action_text(a) for a in own.get("actions") or []) or "no actions"
    broken = f"; they did not validate when opened: {', '.join(parent['failures'])}" if parent.get("failures") else ""
    return (f"{parent.get('title')} (its own credentials, kept: {said}; signed by {own.get('signer') or 'unknown'}"
            f"{broken})")


def _c2pa_message(exc: Exception) -> str:
    return str(exc).strip() or type(exc).__name__
