"""A production's signing identity: the certificate chain and key that sign its Content Credentials.

`reelforge init` calls `create_identity(<production>/.reelforge/identity, name)`, which makes a
small private PKI that C2PA accepts:

    root.pem          self-signed root CA (the trust anchor a verifier is given)
    root.key          the root's private key, 0600 (kept so the leaf can be renewed, see below)
    intermediate.pem  intermediate CA issued by the root (path length 0)
    chain.pem         leaf + intermediate: what the signer embeds in every manifest
    leaf.key          the signing key, 0600
    .gitignore        `*.key`, so a production kept in git never commits a private key

The intermediate's key is not kept: it signs exactly one leaf and is discarded. The root key is
kept (0600, like the leaf key) because every file this production ever signed is verified against
root.pem: `renew_leaf` issues a fresh intermediate + leaf under the same root when the leaf
expires or leaks, and the anchor that was handed out keeps working. Keeping the root key beside
the leaf key adds no exposure a stolen leaf key would not already give (both let an attacker sign
as the production); a studio that wants the root offline moves root.key away after init and
points the config at its own chain instead.

C2PA's certificate profile (what c2pa-rs checks): X.509 v3; leaf not a CA, key usage
digitalSignature (critical), extended key usage emailProtection + documentSigning, subject and
authority key identifiers; CAs with basicConstraints CA (critical) and keyCertSign. ES256 (P-256)
is the default algorithm; Ed25519 also works.

A studio may bring its own chain: `load_identity(chain=..., key=..., trust_anchor=...)`. Problems
are reported as `CredentialsError`, naming the file.

No timestamp authority is used by default (offline), so a verifier checks the leaf's validity
against the current date: the leaf is issued for 10 years and `renew_leaf` exists for later.

The folder also keeps the production's invisible-mark key, `mark.key` (0600, 64 hex digits: 32
random bytes; trust/mark.py derives the mark's pattern from it). It is made on the first marked
render (`load_or_create_mark_secret`), also for a production that signs with a studio's chain or
not at all, because the key belongs to the production, not to a signer. Losing it means the
production's marked deliveries can no longer be traced or verified: back it up with the root key.
"""

from __future__ import annotations

import datetime as dt
import errno
import itertools
import os
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from reelforge.store.paths import ProductionPaths

ROOT_CERT = "root.pem"
ROOT_KEY = "root.key"
INTERMEDIATE_CERT = "intermediate.pem"
CHAIN = "chain.pem"
LEAF_KEY = "leaf.key"
GITIGNORE = ".gitignore"
PLACING_WAIT_S = 10.0  # how long to wait for another process placing its identity file by file

MARK_KEY = "mark.key"
MARK_KEY_BYTES = 32

ALGORITHMS = ("es256", "ed25519")
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")  # id-kp-documentSigning (RFC 9336)

ROOT_YEARS = 30
INTERMEDIATE_YEARS = 20
LEAF_YEARS = 10


class CredentialsError(Exception):
    """Signing or verifying cannot proceed (missing or unreadable file, key and certificate disagree)."""


@dataclass(frozen=True)
class Identity:
    """What signing needs: the chain the signer embeds, its key, and the anchor verifiers trust."""

    chain_pem: bytes  # leaf first, then intermediates (the root may be omitted)
    key_pem: bytes = field(repr=False)  # PKCS#8 PEM, unencrypted
    trust_anchor_pem: bytes | None  # the root a verifier should trust; None for a studio chain without one
    algorithm: str  # c2pa name: "es256", "es384", "es512", "ps256", "ed25519"
    chain_path: Path | None = None
    key_path: Path | None = None
    trust_anchor_path: Path | None = None

    @property
    def leaf(self) -> x509.Certificate:
        return x509.load_pem_x509_certificates(self.chain_pem)[0]

    @property
    def signer_name(self) -> str:
        return _common_name(self.leaf.subject)


def default_identity_folder(production_root: Path) -> Path:
    """`<production>/.reelforge/identity/`."""
    return ProductionPaths.for_root(production_root).identity


# --- creating -------------------------------------------------------------------------------------

def create_identity(folder: Path, name: str, *, algorithm: str = "es256", overwrite: bool = False,
                    now: dt.datetime | None = None) -> Identity:
    """Make a root CA, an intermediate and a leaf for production `name`; write them to `folder`.

    Refuses to replace an existing identity unless `overwrite` (files signed before would no
    longer chain to the new root). The files are written to a temporary folder beside `folder`
    and renamed into place as one, so a killed process never leaves half an identity, and when
    two processes create one at once the first rename wins: the other discards its own keys and
    loads the winner's.
    """
    algorithm = algorithm.lower()
    if algorithm not in ALGORITHMS:
        raise CredentialsError(f"unsupported signing algorithm {algorithm!r}: use one of {', '.join(ALGORITHMS)}")
    folder = Path(folder)
    existing = [folder / n for n in (ROOT_CERT, CHAIN, LEAF_KEY, ROOT_KEY) if (folder / n).exists()]
    if existing and not overwrite:
        raise CredentialsError(f"{existing[0]}: a signing identity already exists in {folder}; "
                               "replacing it would make files signed before untrusted")
    now = now or dt.datetime.now(dt.UTC)
    root_key = _new_key(algorithm)
    root_name = _name(f"{name} Root CA", name)
    root = _issue(subject=root_name, public_key=root_key.public_key(), issuer=root_name, issuer_key=root_key,
                  issuer_cert=None, ca=True, path_length=None, years=ROOT_YEARS, now=now)
    intermediate_pem, chain_pem, leaf_key = _issue_intermediate_and_leaf(root, root_key, name, algorithm, now)
    files = {  # name → (bytes, mode); the root key first and the chain last (see _place_one_by_one)
        ROOT_KEY: (_key_pem(root_key), 0o600),
        LEAF_KEY: (_key_pem(leaf_key), 0o600),
        ROOT_CERT: (root.public_bytes(serialization.Encoding.PEM), 0o644),
        INTERMEDIATE_CERT: (intermediate_pem, 0o644),
        GITIGNORE: (b"# private keys never leave this machine\n*.key\n", 0o644),
        CHAIN: (chain_pem, 0o644),
    }
    if overwrite and folder.is_dir():  # replacing on purpose: file by file, each atomically
        for file_name, (data, mode) in files.items():
            _write(folder / file_name, data, mode)
        return load_identity(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.tmp-"))  # 0700, like the folder
    try:
        for file_name, (data, mode) in files.items():
            _write(temp / file_name, data, mode)
        try:
            os.rename(temp, folder)  # replaces only a missing or empty folder: the first creator wins
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise CredentialsError(f"{folder}: cannot create the signing identity: {exc.strerror}") from None
            if not (folder / CHAIN).exists():  # not another identity: other files (a mark key) came first
                _place_one_by_one(temp, folder, files)
    finally:
        shutil.rmtree(temp, ignore_errors=True)  # gone after a won rename; the loser's unused keys go here
    return load_identity(folder)


def _place_one_by_one(temp: Path, folder: Path, files: dict[str, tuple[bytes, int]]) -> None:
    """Link the new identity's files into a folder that already holds other files.

    Linking never replaces: whoever links the root key first places the rest, chain last; a process
    that finds the root key taken waits (bounded) for the chain, then loads that identity instead.
    """
    os.chmod(folder, 0o700)
    try:
        os.link(temp / ROOT_KEY, folder / ROOT_KEY)
    except FileExistsError:
        deadline = time.monotonic() + PLACING_WAIT_S
        while not (folder / CHAIN).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return  # loading says which file is missing if the other process never finished
    for file_name in files:
        if file_name == ROOT_KEY:
            continue
        try:
            os.link(temp / file_name, folder / file_name)
        except FileExistsError:
            if file_name != GITIGNORE:  # only someone replacing the identity on purpose gets here
                raise CredentialsError(f"{folder / file_name}: appeared while this identity was being created; "
                                       "check the folder and try again") from None


def renew_leaf(folder: Path, *, now: dt.datetime | None = None) -> Identity:
    """Issue a fresh intermediate and leaf under the kept root (expiry, a leaked leaf key).

    The root, and so the trust anchor verifiers hold, stays the same.
    """
    folder = Path(folder)
    root = _read_certs(folder / ROOT_CERT)[0]
    root_key = _read_key(folder / ROOT_KEY)
    name = _organization(root.subject) or _common_name(root.subject).removesuffix(" Root CA")
    intermediate_pem, chain_pem, leaf_key = _issue_intermediate_and_leaf(
        root, root_key, name, _algorithm_of(root_key.public_key(), folder / ROOT_KEY),
        now or dt.datetime.now(dt.UTC))
    _write(folder / LEAF_KEY, _key_pem(leaf_key), 0o600)
    _write(folder / INTERMEDIATE_CERT, intermediate_pem, 0o644)
    _write(folder / CHAIN, chain_pem, 0o644)
    return load_identity(folder)


def _issue_intermediate_and_leaf(root, root_key, name: str, algorithm: str, now: dt.datetime):
    intermediate_key = _new_key(algorithm)
    intermediate = _issue(subject=_name(f"{name} Intermediate CA", name), public_key=intermediate_key.public_key(),
                          issuer=root.subject, issuer_key=root_key, issuer_cert=root, ca=True, path_length=0,
                          years=INTERMEDIATE_YEARS, now=now)
    leaf_key = _new_key(algorithm)
    leaf = _issue(subject=_name(f"{name} Content Credentials", name), public_key=leaf_key.public_key(),
                  issuer=intermediate.subject, issuer_key=intermediate_key, issuer_cert=intermediate, ca=False,
                  path_length=None, years=LEAF_YEARS, now=now)
    intermediate_pem = intermediate.public_bytes(serialization.Encoding.PEM)
    chain_pem = leaf.public_bytes(serialization.Encoding.PEM) + intermediate_pem
    return intermediate_pem, chain_pem, leaf_key


def _new_key(algorithm: str):
    if algorithm == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64]),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization[:64])])


def _issue(*, subject, public_key, issuer, issuer_key, issuer_cert, ca: bool, path_length, years: int,
           now: dt.datetime) -> x509.Certificate:
    start = now - dt.timedelta(hours=1)  # tolerate a verifier whose clock runs a little behind
    builder = (x509.CertificateBuilder()
               .subject_name(subject).issuer_name(issuer).public_key(public_key)
               .serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(start + dt.timedelta(days=365 * years + years // 4))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))
    authority_key = issuer_cert.public_key() if issuer_cert is not None else public_key
    builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(authority_key), critical=False)
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                          encipher_only=False, decipher_only=False), critical=True)
    else:
        builder = (builder
                   .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                                key_encipherment=False, data_encipherment=False,
                                                key_agreement=False, key_cert_sign=False, crl_sign=False,
                                                encipher_only=False, decipher_only=False), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING]),
                                  critical=False))
    digest = None if isinstance(issuer_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(issuer_key, digest)


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _make_private_folder(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)


def _write(path: Path, data: bytes, mode: int) -> None:
    """Atomic write with `mode` from the start (a key is never readable by others, even briefly)."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp-")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


# --- the invisible mark's key ---------------------------------------------------------------------

def read_mark_secret(folder: Path) -> bytes | None:
    """The production's mark key (32 bytes) kept in `folder`, or None if it has none yet.

    `CredentialsError` naming the file when it cannot be read or is not a mark key."""
    path = Path(folder) / MARK_KEY
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise CredentialsError(f"{path}: cannot read the mark key: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        secret = b""
    if len(secret) != MARK_KEY_BYTES:
        raise CredentialsError(f"{path}: not a mark key ({2 * MARK_KEY_BYTES} hex digits); restore it from "
                               "your backup")
    return secret


def load_or_create_mark_secret(folder: Path) -> tuple[bytes, bool]:
    """The production's mark key, made (32 random bytes, 0600) the first time one is needed: (key, created).

    Never replaces a key: the new key is written in full to a temporary file, then linked to its name,
    which fails if the name exists; so when two processes start at once on a new production the first
    link wins and the other reads the winner's key."""
    existing = read_mark_secret(folder)
    if existing is not None:
        return existing, False
    folder = Path(folder)
    _make_private_folder(folder)
    ignore = folder / ".gitignore"
    if not ignore.exists():
        _write(ignore, b"# private keys never leave this machine\n*.key\n", 0o644)
    fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{MARK_KEY}.tmp-")
    created = False
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(MARK_KEY_BYTES).hex().encode("ascii") + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temp, folder / MARK_KEY)
            created = True
        except FileExistsError:  # another process made it first: use theirs
            pass
    finally:
        Path(temp).unlink(missing_ok=True)
    if created:
        _fsync_folder(folder)
    secret = read_mark_secret(folder)
    if secret is None:  # linked (by us or another process), then removed from under us
        raise CredentialsError(f"{folder / MARK_KEY}: the mark key vanished while it was being made")
    return secret, created


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- loading --------------------------------------------------------------------------------------

def load_identity(folder: Path | None = None, *, chain: Path | None = None, key: Path | None = None,
                  trust_anchor: Path | None = None) -> Identity:
    """Load a production's identity from `folder`, or a studio's own chain and key.

    `load_identity(folder)` reads chain.pem, leaf.key and root.pem there. Explicit `chain`/`key`/
    `trust_anchor` paths replace the folder's files one by one (a studio chain needs `chain` and
    `key`; `trust_anchor` is optional there). Raises `CredentialsError` naming the file at fault.
    """
    if folder is not None:
        folder = Path(folder)
        if not folder.is_dir() and (chain is None or key is None):
            raise CredentialsError(f"{folder}: no signing identity here (run `reelforge init`, "
                                   "or point the config at your own certificate chain and key)")
        chain = chain or folder / CHAIN
        key = key or folder / LEAF_KEY
        if trust_anchor is None and (folder / ROOT_CERT).exists():
            trust_anchor = folder / ROOT_CERT
    if chain is None or key is None:
        raise CredentialsError("a signing identity needs a certificate chain and a private key "
                               "(give an identity folder, or both chain and key)")
    chain, key = Path(chain), Path(key)
    certs = _read_certs(chain)
    private_key = _read_key(key)
    leaf = certs[0]
    if _public_der(private_key.public_key()) != _public_der(leaf.public_key()):
        raise CredentialsError(f"{key}: this private key does not match the first certificate in {chain} "
                               f"({leaf.subject.rfc4514_string()}); the leaf certificate must come first")
    _check_leaf(leaf, chain)
    for child, parent in itertools.pairwise(certs):
        _check_issued(child, parent, chain)
    anchor_pem = None
    if trust_anchor is not None:
        trust_anchor = Path(trust_anchor)
        anchors = _read_certs(trust_anchor)
        _check_chains_to(certs, anchors[0], chain, trust_anchor)
        anchor_pem = anchors[0].public_bytes(serialization.Encoding.PEM)
    chain_pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)
    return Identity(chain_pem=chain_pem, key_pem=_key_pem(private_key), trust_anchor_pem=anchor_pem,
                    algorithm=_algorithm_of(private_key.public_key(), key), chain_path=chain, key_path=key,
                    trust_anchor_path=trust_anchor)


def load_anchor(path: Path) -> bytes:
    """The first certificate of a PEM file (a trust anchor), as PEM; `CredentialsError` naming the file."""
    return _read_certs(Path(path))[0].public_bytes(serialization.Encoding.PEM)


def _read_bytes(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CredentialsError(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise CredentialsError(f"{path}: is a folder, expected a {what}") from None
    except OSError as exc:
        raise CredentialsError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None


def _read_certs(path: Path) -> list[x509.Certificate]:
    data = _read_bytes(path, "certificate file")
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        try:
            certs = [x509.load_der_x509_certificate(data)]
        except ValueError:
            raise CredentialsError(f"{path}: not a PEM certificate file") from None
    if not certs:
        raise CredentialsError(f"{path}: contains no certificate")
    return certs


def _read_key(path: Path):
    data = _read_bytes(path, "private key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise CredentialsError(f"{path}: the private key is encrypted; give an unencrypted PKCS#8 PEM key "
                               "(keep it 0600)") from None
    except (ValueError, UnsupportedAlgorithm):
        raise CredentialsError(f"{path}: not a PEM private key") from None
    return key


def _public_der(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _algorithm_of(public_key, path: Path) -> str:
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "ed25519"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        names = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}
        if public_key.curve.name in names:
            return names[public_key.curve.name]
        raise CredentialsError(f"{path}: elliptic curve {public_key.curve.name} is not allowed by C2PA "
                               "(use P-256, P-384 or P-521)")
    if isinstance(public_key, rsa.RSAPublicKey):
        return "ps256"  # C2PA allows RSA only with PSS padding
    raise CredentialsError(f"{path}: {type(public_key).__name__} keys cannot sign C2PA manifests")


def _check_leaf(leaf: x509.Certificate, chain: Path) -> None:
    """The parts of C2PA's certificate profile that a studio chain most often misses."""
    who = leaf.subject.rfc4514_string()
    try:
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
        if not usage.digital_signature:
            raise CredentialsError(f"{chain}: leaf certificate {who} lacks the digitalSignature key usage")
    except x509.ExtensionNotFound:
        pass
    try:
        if leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise CredentialsError(f"{chain}: the first certificate ({who}) is a CA; the leaf must come first")
    except x509.ExtensionNotFound:
        pass
    try:
        ekus = set(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        raise CredentialsError(f"{chain}: leaf certificate {who} has no extended key usage; C2PA needs "
                               "emailProtection or documentSigning") from None
    allowed = {ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING, ExtendedKeyUsageOID.TIME_STAMPING,
               ExtendedKeyUsageOID.OCSP_SIGNING}
    if not ekus & allowed:
        raise CredentialsError(f"{chain}: leaf certificate {who} lacks the emailProtection/documentSigning "
                               "extended key usage that C2PA requires")


def _check_issued(child: x509.Certificate, parent: x509.Certificate, chain: Path) -> None:
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature):
        raise CredentialsError(f"{chain}: {child.subject.rfc4514_string()} is not issued by the next "
                               f"certificate ({parent.subject.rfc4514_string()}); order it leaf first") from None


def _check_chains_to(certs: list[x509.Certificate], anchor: x509.Certificate, chain: Path, anchor_path: Path) -> None:
    last = certs[-1]
    if last == anchor:
        return
    try:
        last.verify_directly_issued_by(anchor)
    except (ValueError, TypeError, InvalidSignature):
        raise CredentialsError(f"{anchor_path}: the chain in {chain} does not lead to this trust anchor "
                               f"({anchor.subject.rfc4514_string()})") from None


def _common_name(name: x509.Name) -> str:
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else name.rfc4514_string()


def _organization(name: x509.Name) -> str | None:
    values = name.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return str(values[0].value) if values else None
