"""Invisible per-delivery mark: a 64-bit id hidden in the picture, read back from a leaked copy.

What is embedded
----------------
Each delivery gets a random 64-bit mark id. The id is encoded with a BCH(127, 64) code
(corrects any 10 bit errors) into 127 code bits. A *tile* of 16 × 16 cells (a cell is
16 × 16 pixels at 1080p, so the tile is 256 × 256 pixels; other sizes scale it by the frame's
short side / 1080: 2 at 4K, 4 at 8K, in every shape) carries every code bit once and a
*sync* pattern in the other 129 cells. Each cell holds one smooth bump (a sine window, zero
at the cell's edge) of sign ±1. The tile repeats over the whole frame, on every frame: any
region of the picture and any stretch of frames carries the whole mark, and H.264 inter
prediction carries it from frame to frame instead of having to code it anew.

The pattern goes into luma only: the same value is added to R, G and B, which moves Y and
leaves Cb/Cr alone. Its amplitude follows the local activity of the frame (textured areas
hide more, flat areas get a floor that H.264 still keeps) and the frame's RMS change is
capped, so PSNR stays above 40 dB whatever the content.

Embedding is deterministic: the pattern depends only on the key, the id and the frame size, the
activity map is computed in integer OpenCV paths (fixed-point, bit-exact), and the final
sum is one float multiply and one saturating add per pixel. Same key + same id + same frame →
same bytes. The frame index is accepted but does not change the mark: a trimmed copy may start
anywhere.

The key
-------
The cell layout (which cell carries which code bit, which cells are sync), the sync signs and
the signs that scramble the code bits — so every cell's chip sign — come from HMAC-SHA256 under
the production's mark key (32 random bytes, `.reelforge/identity/mark.key`, see
trust/identity.py), over fixed labels (KEYED_ALG, "org.reelforge.mark.v2"). Without the key a
copy's mark cannot be read (the sync search finds no peak, or the bits decode to no codeword),
and no valid mark can be made for an id: trace with another key finds nothing. The tables are
computed once per key (`_layout`, `_sync_spectrum`: lru_cache on the key bytes), so keying costs
nothing per frame. What the key does not stop: the pattern repeats in every tile of every frame,
so someone who averages a marked copy can estimate it and subtract it (removal), or copy one
delivery's estimated pattern onto another picture (which names that delivery, not a new one).

Deliveries marked before keying carry the public v1 pattern (the same tables from SHA-256 of
the labels, PUBLIC_ALG): `MarkKey(None)` = PUBLIC_PATTERN reads and re-creates them, and
trace falls back to it only for deliveries the catalog records as marked that way.

How it is read
--------------
Per decoded frame: luma (reduced by an integer factor, `downscale_factor`, when the short side is
past what the scale search covers: an 8K copy is read at 4K size, which also bounds the memory),
a band-pass (small blur minus large blur, sized by the short side) that keeps the cell
frequencies and drops most picture content, clipped to ±3 so edges do not dominate; letterbox
and pillarbox bars, and the band-pass's reach into the picture from their edges, are left out
(`_mask_bars`); the clipped residuals are summed over frames. For a candidate scale (copy
pixels per mark pixel) the sum is resampled back to the mark's scale and folded modulo 256 (every tile in
the picture added onto one), which also makes a crop harmless: a crop only shifts the
tile. An FFT cross-correlation of the folded tile with the sync pattern finds that shift,
and its peak over the noise (a robust z-score) says whether a mark is present at all.
Scales are searched isotropically from 0.4 to 2.2 in 0.5 % steps on a half-resolution
fold (≈ 1 ms a step), plus x/y periods taken from the autocorrelation of the sum (for a
copy scaled differently along x and y); the best candidates are refined, x and y apart,
by maximising the sync peak. The 256 cell values are read with the bump as matched
filter, neighbour cross-talk is cancelled (a 5 × 5 response fitted on the sync cells and
the first decisions), and the 127 code bits are BCH-decoded.

A mark is reported only if the sync peak is ≥ SYNC_MIN_Z and the BCH decoder finds a
codeword within MAX_BIT_ERRORS (= 10) of the hard bits. On unmarked pictures the sync peak
stays near 4–6 (bench/mark.py: 100 clips); independently, a random 127-bit word lies within
10 bits of some codeword with probability 2^64 · V(127, 10) / 2^127 ≈ 2.5e-5.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import av
import cv2
import numpy as np

PUBLIC_ALG = "org.reelforge.mark.v1"  # the pattern from SHA-256 of fixed labels: deliveries marked before keying
KEYED_ALG = "org.reelforge.mark.v2"  # the pattern from HMAC-SHA256 under the production's mark key

REF_HEIGHT = 1080  # the tile geometry below is in pixels of a 1080-line picture
CELL = 16  # pixels per cell side at 1080p
CELLS = 16  # cells per tile side
TILE = CELL * CELLS  # 256
N_CELLS = CELLS * CELLS
N_CODE = 127  # BCH code length
N_DATA = 64  # id bits
MAX_BIT_ERRORS = 10  # BCH(127, 64) corrects up to 10 errors; more is "no mark"
SYNC_MIN_Z = 8.0  # sync correlation peak, in robust standard deviations of the correlation surface

# Embedding strength (luma levels, added equally to R, G and B). The pattern's mean square is 1/4
# of its peak squared, so an amplitude A costs an RMS of A/2.
AMP_FLAT = 2.0  # amplitude on flat areas (RMS 1.0 → 48 dB on a flat frame)
AMP_MAX = 6.0  # amplitude cap on textured areas
AMP_PER_ACTIVITY = 0.35  # extra amplitude per level of local mean absolute deviation
MAX_RMS = 2.2  # per-frame cap on the RMS change: PSNR ≥ 20·log10(255/2.2) ≈ 41.3 dB
WEIGHT_STEPS = 32  # amplitude quantised to 1/32 level (weights held as uint8)

# Detection.
RESIDUAL_CLIP = 3.0
BAR_LEVEL = 16  # a row or column at the picture's edge no brighter than this is a letterbox or pillarbox bar
MIN_BAR = 2  # rows or columns: a bar is at least this wide (one dark line is not a bar)
REFINE_MIN_Z = 5.0  # candidates with a weaker sync peak than this are not refined
SCALE_RANGE = (0.4, 2.2)  # copy pixels per mark pixel that the detector searches
COARSE_STEP = 0.005  # relative step of the isotropic scale search (a fold tolerates ≈ 1 %)
TRY_FRAMES = (48, 96)  # detect_mark_in_file tries a decode after these many frames, then at the end


# --------------------------------------------------------------------------------------------
# The key and the pattern tables it gives (cell layout, sync signs, code-bit scramble)

KEY_BYTES = 32  # a production's mark secret: 32 random bytes (trust/identity.py keeps it)


@dataclass(frozen=True)
class MarkKey:
    """Whose pattern a mark is made and read with.

    A production's secret (KEY_BYTES random bytes) gives the keyed v2 pattern: without it a copy can be
    neither read nor given a valid mark. `secret=None` is the public v1 pattern that deliveries had
    before marks were keyed (PUBLIC_PATTERN): kept only so those deliveries can still be verified and
    traced; a new delivery is never marked with it (deliver/options.py always loads the production's key).
    """

    secret: bytes | None = field(repr=False)

    def __post_init__(self) -> None:
        if self.secret is not None and (not isinstance(self.secret, bytes) or len(self.secret) != KEY_BYTES):
            raise ValueError(f"a mark key is {KEY_BYTES} bytes")

    @property
    def public(self) -> bool:
        """The public v1 pattern (deliveries marked before keying)."""
        return self.secret is None

    @property
    def algorithm(self) -> str:
        return PUBLIC_ALG if self.secret is None else KEYED_ALG

    @property
    def key_id(self) -> str:
        """A public fingerprint of the key (16 hex digits; "public" for the v1 pattern): recorded with each
        delivery so verify and trace know which key made its mark, without revealing the key."""
        if self.secret is None:
            return "public"
        return hmac.new(self.secret, f"{KEYED_ALG}/key-id".encode(), hashlib.sha256).hexdigest()[:16]


PUBLIC_PATTERN = MarkKey(None)  # the v1 pattern of deliveries marked before keying (verify and trace only)


def _pattern_bytes(secret: bytes | None, label: str, n: int) -> bytes:
    """n bytes for `label`: HMAC-SHA256 under the key (v2), or SHA-256 of the label (the public v1 pattern).

    Both are stable across numpy versions and machines."""
    out = bytearray()
    counter = 0
    while len(out) < n:
        if secret is None:
            out += hashlib.sha256(f"{PUBLIC_ALG}/{label}/{counter}".encode()).digest()
        else:
            out += hmac.new(secret, f"{KEYED_ALG}/{label}/{counter}".encode(), hashlib.sha256).digest()
        counter += 1
    return bytes(out[:n])


def _signs(secret: bytes | None, label: str, n: int) -> np.ndarray:
    bits = np.unpackbits(np.frombuffer(_pattern_bytes(secret, label, (n + 7) // 8), np.uint8))[:n]
    return (1 - 2 * bits.astype(np.int8)).astype(np.float32)


def _permutation(secret: bytes | None, label: str, n: int) -> np.ndarray:
    words = np.frombuffer(_pattern_bytes(secret, label, 8 * n), dtype="<u8")
    order = list(range(n))
    for i in range(n - 1, 0, -1):  # Fisher–Yates
        j = int(words[i] % np.uint64(i + 1))
        order[i], order[j] = order[j], order[i]
    return np.array(order)


@dataclass(frozen=True)
class _Layout:
    """One key's pattern tables: which cell carries each code bit, the sync cells and their signs, and the
    signs that scramble the code bits (together: every cell's chip sign)."""

    code_cells: np.ndarray  # cell of code bit i (row-major cell index in the tile)
    sync_cells: np.ndarray
    sync_signs: np.ndarray
    scramble: np.ndarray


@lru_cache(maxsize=8)
def _layout(secret: bytes | None) -> _Layout:
    """Computed once per key (the embedder and the detector ask for it on every delivery and read)."""
    order = _permutation(secret, "layout", N_CELLS)
    sync_cells = np.sort(order[N_CODE:])
    return _Layout(code_cells=order[:N_CODE], sync_cells=sync_cells,
                   sync_signs=_signs(secret, "sync", N_CELLS)[sync_cells], scramble=_signs(secret, "scramble", N_CODE))


# --------------------------------------------------------------------------------------------
# BCH(127, 64, t = 10) over GF(2^7), primitive polynomial x^7 + x^3 + 1


class _BCH:
    n, k, t = N_CODE, N_DATA, MAX_BIT_ERRORS

    def __init__(self) -> None:
        self.exp = [0] * (2 * self.n)
        self.log = [0] * (self.n + 1)
        x = 1
        for i in range(self.n):
            self.exp[i] = x
            self.log[x] = i
            x <<= 1
            if x & 0x80:
                x ^= 0b10001001
        for i in range(self.n, 2 * self.n):
            self.exp[i] = self.exp[i - self.n]
        generator, seen = 1, set()
        for i in range(1, 2 * self.t + 1):
            poly, conjugates = self._minimal_polynomial(i)
            if conjugates & seen:
                continue
            seen |= conjugates
            generator = self._mul_gf2(generator, poly)
        assert generator.bit_length() - 1 == self.n - self.k
        self.generator = generator

    def _mul(self, a: int, b: int) -> int:
        return 0 if a == 0 or b == 0 else self.exp[self.log[a] + self.log[b]]

    @staticmethod
    def _mul_gf2(a: int, b: int) -> int:
        product = 0
        while b:
            if b & 1:
                product ^= a
            a <<= 1
            b >>= 1
        return product

    def _minimal_polynomial(self, i: int) -> tuple[int, frozenset]:
        conjugates, j = [], i % self.n
        while j not in conjugates:
            conjugates.append(j)
            j = (2 * j) % self.n
        poly = [1]
        for j in conjugates:
            root, nxt = self.exp[j], [0] * (len(poly) + 1)
            for power, coefficient in enumerate(poly):
                nxt[power + 1] ^= coefficient
                nxt[power] ^= self._mul(coefficient, root)
            poly = nxt
        return sum(c << power for power, c in enumerate(poly)), frozenset(conjugates)

    def encode(self, data: int) -> int:
        """Systematic codeword as an int: bit i = coefficient of x^i; data in bits 63..126."""
        shifted = data << (self.n - self.k)
        remainder = shifted
        degree = self.n - self.k
        for bit in range(self.n - 1, degree - 1, -1):
            if remainder >> bit & 1:
                remainder ^= self.generator << (bit - degree)
        return shifted | remainder

    def decode(self, word: int) -> tuple[int, int] | None:
        """(data, errors corrected) for the codeword within t bits of `word`, else None."""
        positions = [i for i in range(self.n) if word >> i & 1]
        syndromes = []
        for j in range(1, 2 * self.t + 1):
            s = 0
            for i in positions:
                s ^= self.exp[(i * j) % self.n]
            syndromes.append(s)
        if not any(syndromes):
            return word >> (self.n - self.k), 0
        # Berlekamp–Massey: the error-locator polynomial (coefficients, lowest first).
        locator, previous = [1], [1]
        length, shift, last = 0, 1, 1
        for r in range(2 * self.t):
            delta = syndromes[r]
            for i in range(1, length + 1):
                if i < len(locator):
                    delta ^= self._mul(locator[i], syndromes[r - i])
            if delta == 0:
                shift += 1
                continue
            factor = self._mul(delta, self.exp[(self.n - self.log[last]) % self.n])
            update = [0] * shift + [self._mul(factor, c) for c in previous]
            nxt = locator + [0] * max(0, len(update) - len(locator))
            for i, c in enumerate(update):
                nxt[i] ^= c
            if 2 * length <= r:
                previous, length, last, shift = locator, r + 1 - length, delta, 1
            else:
                shift += 1
            locator = nxt
        while len(locator) > 1 and locator[-1] == 0:
            locator.pop()
        if len(locator) - 1 != length or length > self.t:
            return None
        # Chien search: error at position i when locator(alpha^-i) = 0.
        errors = []
        for i in range(self.n):
            value = 0
            for power, c in enumerate(locator):
                if c:
                    value ^= self.exp[(self.log[c] - i * power) % self.n]
            if value == 0:
                errors.append(i)
        if len(errors) != length:
            return None
        for i in errors:
            word ^= 1 << i
        return word >> (self.n - self.k), len(errors)


_BCH_CODE = _BCH()


def _to_bits(word: int, n: int) -> np.ndarray:
    return np.array([(word >> i) & 1 for i in range(n)], dtype=np.uint8)


def _from_bits(bits: np.ndarray) -> int:
    return sum(int(b) << i for i, b in enumerate(bits))


def mark_codeword(mark_id: int) -> np.ndarray:
    """The 127 code bits (0/1) that carry `mark_id`."""
    return _to_bits(_BCH_CODE.encode(_check_id(mark_id)), N_CODE)


def _check_id(mark_id: int) -> int:
    if not isinstance(mark_id, int) or isinstance(mark_id, bool) or not 0 <= mark_id < 1 << 64:
        raise ValueError(f"a mark id is an integer in [0, 2**64), got {mark_id!r}")
    return mark_id


def new_mark_id() -> int:
    """A fresh random 64-bit mark id (from the OS's CSPRNG)."""
    return secrets.randbits(64)


# --------------------------------------------------------------------------------------------
# The pattern


@lru_cache(maxsize=1)
def _bump() -> np.ndarray:
    """One cell's bump, sin·sin, in steps of 1/4096: exact in float32, so the pattern times a
    uint8 weight is exact too and the embedded bytes do not depend on the CPU's sin or SIMD."""
    x = (np.arange(CELL, dtype=np.float64) + 0.5) / CELL
    window = np.sin(np.pi * x)
    return (np.round(np.outer(window, window) * 4096) / 4096).astype(np.float32)


def _tile(chips: np.ndarray) -> np.ndarray:
    """A TILE × TILE float32 tile from a CELLS × CELLS grid of chip values."""
    return np.kron(chips.reshape(CELLS, CELLS).astype(np.float32), _bump()).astype(np.float32)


def _chips(mark_id: int, key: MarkKey) -> np.ndarray:
    layout = _layout(key.secret)
    chips = np.zeros(N_CELLS, np.float32)
    chips[layout.sync_cells] = layout.sync_signs
    chips[layout.code_cells] = (1.0 - 2.0 * mark_codeword(mark_id).astype(np.float32)) * layout.scramble
    return chips


def mark_pattern(mark_id: int, width: int = 1920, height: int = 1080, *, key: MarkKey) -> np.ndarray:
    """The id's pattern under `key` over a width × height picture, float32 in [-1, 1] (peak amplitude 1).

    The pattern is sized by the picture's short side: at 1080 (a 1920×1080, 1080×1920 or 1080×1080 frame)
    the 256-pixel tile repeats from the top-left corner; other sizes get that pattern resized by
    short side / 1080, so a 4K delivery carries the same mark at twice the size and an 8K one (16:9
    or 9:16) at four times. For 16:9 the short side is the height (the bytes of every 16:9 delivery
    marked before other shapes existed are unchanged); a 9:16 frame carries the 16:9 frame's cells,
    not cells stretched by its greater height, which the detector's scale search would miss."""
    tile = _tile(_chips(mark_id, key))
    short = min(width, height)
    if short == REF_HEIGHT:
        reps = (-(-height // TILE), -(-width // TILE))
        return np.ascontiguousarray(np.tile(tile, reps)[:height, :width])
    ref_w, ref_h = (int(np.ceil(side * REF_HEIGHT / short)) for side in (width, height))
    reps = (-(-ref_h // TILE), -(-ref_w // TILE))
    ref = np.ascontiguousarray(np.tile(tile, reps)[:ref_h, :ref_w])
    interpolation = cv2.INTER_AREA if short < REF_HEIGHT else cv2.INTER_CUBIC
    scaled = cv2.resize(ref, (round(ref_w * short / REF_HEIGHT), round(ref_h * short / REF_HEIGHT)),
                        interpolation=interpolation)
    return np.ascontiguousarray(np.clip(scaled[:height, :width], -1.0, 1.0))


EMBED_ROWS = 256  # rows of a frame marked at once (memory: 256 × width × 12 bytes of float delta)


class MarkEmbedder:
    """Embeds one delivery's mark under the production's key; build once per delivery, then `embed` each frame."""

    def __init__(self, mark_id: int, width: int = 1920, height: int = 1080, *, key: MarkKey):
        self.mark_id = _check_id(mark_id)
        self.width, self.height = int(width), int(height)
        if self.width < 64 or self.height < 64:
            raise ValueError(f"frame size {width}×{height} is too small to carry a mark")
        # Pattern pre-divided by the weight scale, so the amplitude is pattern · uint8 weight.
        self._pattern = (mark_pattern(self.mark_id, self.width, self.height, key=key) / WEIGHT_STEPS).astype(np.float32)
        # Activity is measured on a picture reduced by 4 (block averages, integer arithmetic).
        self._small = (max(1, self.width // 4), max(1, self.height // 4))
        activity = np.arange(256, dtype=np.float64)
        amplitude = np.minimum(AMP_FLAT + AMP_PER_ACTIVITY * activity, AMP_MAX)
        self._lut = np.round(amplitude * WEIGHT_STEPS).astype(np.uint8)  # activity level → weight
        self._amplitude_sq = (np.arange(256, dtype=np.float64) / WEIGHT_STEPS) ** 2  # per weight value
        self._pattern_ms = float(np.mean(self._pattern.astype(np.float64) ** 2)) * WEIGHT_STEPS ** 2  # ≈ 1/4

    def weights(self, frame: np.ndarray) -> np.ndarray:
        """The uint8 amplitude map (amplitude = weight / 32 luma levels) at 1/4 size."""
        small = cv2.resize(frame, self._small, interpolation=cv2.INTER_AREA)
        luma = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        # Local mean absolute deviation from a 3 × 3 mean, averaged over 5 × 5 (all uint8 paths).
        deviation = cv2.absdiff(luma, cv2.blur(luma, (3, 3)))
        activity = cv2.blur(deviation, (5, 5))
        weights = self._lut[activity]
        # Cap the frame's RMS change: mean(amplitude²) · mean(pattern²) ≤ MAX_RMS².
        mean_square = float(np.bincount(weights.ravel(), minlength=256) @ self._amplitude_sq) / weights.size
        rms = np.sqrt(mean_square * self._pattern_ms)
        if rms > MAX_RMS:
            scale = np.uint16(np.floor(256 * MAX_RMS / rms))
            weights = ((weights.astype(np.uint16) * scale) >> 8).astype(np.uint8)
        return weights

    def embed(self, frame: np.ndarray, index: int = 0) -> np.ndarray:
        """The frame with the mark added: uint8 RGB (height, width, 3) in and out.

        `index` is the frame's position in the delivery; the mark does not depend on it (the
        same pattern on every frame, so any stretch of the video carries all of it)."""
        if frame.dtype != np.uint8 or frame.shape != (self.height, self.width, 3):
            raise ValueError(f"expected a {self.height}×{self.width}×3 uint8 RGB frame, "
                             f"got {frame.dtype} {frame.shape}")
        frame = np.ascontiguousarray(frame)
        weights = self.weights(frame)
        amplitude = cv2.resize(weights, (self.width, self.height), interpolation=cv2.INTER_LINEAR)  # fixed-point
        marked = np.empty_like(frame)
        # In bands of rows (each pixel's sum alone, so the bytes are those of one whole-frame sum): an 8K frame's
        # float32 RGB delta would be 400 MB at once.
        for top in range(0, self.height, EMBED_ROWS):
            rows = slice(top, top + EMBED_ROWS)
            delta = cv2.multiply(self._pattern[rows], amplitude[rows], dtype=cv2.CV_32F)
            marked[rows] = cv2.add(frame[rows], cv2.cvtColor(delta, cv2.COLOR_GRAY2RGB), dtype=cv2.CV_8U)
        return marked


# --------------------------------------------------------------------------------------------
# Detection


@dataclass
class MarkResult:
    """What `detect_mark` found.

    found: a mark passed both tests (sync peak and BCH decode within MAX_BIT_ERRORS).
    mark_id: the 64-bit id, or None.
    confidence: agreement of the soft code bits with the decoded codeword, 0..1 (0 when not found).
    bit_errors: code bits that disagreed with the decoded codeword (None if no codeword was found).
    sync_z: the sync correlation peak in robust standard deviations (≥ SYNC_MIN_Z to count).
    details: scale, offset, frames used and per-candidate figures, for reports.
    key: the key it was read with (a found mark was made with it; `key.public`: marked before keying).
    """

    found: bool
    mark_id: int | None
    confidence: float
    bit_errors: int | None
    sync_z: float
    frames: int
    details: dict = field(default_factory=dict)
    key: MarkKey | None = field(default=None, repr=False)

    def __str__(self) -> str:
        if self.found:
            return (f"mark {self.mark_id:016x} (bit errors {self.bit_errors}/{N_CODE}, sync z {self.sync_z:.1f}, "
                    f"{self.frames} frames)")
        return f"no mark found (sync z {self.sync_z:.1f}, {self.frames} frames)"


def _luma(frame: np.ndarray) -> np.ndarray:
    """The frame's luma as it came (uint8 from RGB; a 2-D frame unchanged)."""
    if frame.ndim == 2:
        return frame
    if frame.ndim == 3 and frame.shape[2] == 3:
        return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
    raise ValueError(f"expected an RGB (h, w, 3) or luma (h, w) frame, got shape {frame.shape}")


REDUCE_ROWS = 128  # output rows reduced at once (an 8K frame's float32 copy would be 133 MB)


def downscale_factor(width: int, height: int) -> int:
    """The integer factor the detector reduces a width × height copy by before reading it.

    A delivery's mark is short side / 1080 times the 1080p size (mark_pattern): 2 at 4K, 4 at 8K, past
    the scales searched (SCALE_RANGE). Reducing by this factor brings a delivery of any size into the
    range (8K: 2, read like a 4K delivery) and bounds the detector's memory by a 4K frame's; up to
    2376 lines (1080p and 4K) it is 1: those copies are read exactly as before."""
    return max(1, int(np.ceil(min(width, height) / (SCALE_RANGE[1] * REF_HEIGHT))))


def _reduce(luma: np.ndarray, factor: int) -> np.ndarray:
    """Float32 luma, block-averaged by `factor` (exact means; trailing rows and columns that do not fill a
    block dropped), converted a band of rows at a time."""
    if factor == 1:
        return luma.astype(np.float32)
    h, w = luma.shape[0] // factor, luma.shape[1] // factor
    out = np.empty((h, w), np.float32)
    for top in range(0, h, REDUCE_ROWS):
        rows = min(REDUCE_ROWS, h - top)
        band = luma[top * factor:(top + rows) * factor, :w * factor].astype(np.float32)
        out[top:top + rows] = cv2.resize(band, (w, rows), interpolation=cv2.INTER_AREA)
    return out


class MarkDetector:
    """Accumulates decoded frames; `result()` reads the mark from what has been added so far.

    A frame larger than 1080p and 4K deliveries (an 8K copy) is reduced by `downscale_factor` first:
    the sum is kept at that size, so reading an 8K copy costs the memory of a 4K one."""

    def __init__(self) -> None:
        self.sum: np.ndarray | None = None
        self.frames = 0
        self.size: tuple[int, int] | None = None  # (width, height) of the frames added
        self.factor = 1

    def add(self, frame: np.ndarray) -> None:
        luma = _luma(np.asarray(frame))
        if luma.shape[0] < 64 or luma.shape[1] < 64:
            raise ValueError(f"frame {luma.shape[1]}×{luma.shape[0]} is too small to read a mark from")
        if self.size is None:
            self.size = (luma.shape[1], luma.shape[0])
            self.factor = downscale_factor(*self.size)
        elif (luma.shape[1], luma.shape[0]) != self.size:
            raise ValueError(f"frame size changed from {self.size} to {luma.shape[::-1]}")
        luma = _reduce(luma, self.factor)
        # Band-pass: detail finer than the cells (σ 1) and coarser than them (two 23-px box passes,
        # σ ≈ 9.4 px, scaled with the picture's short side) removed; then clipped so edges cannot dominate.
        box = max(3, round(23 * min(luma.shape) / REF_HEIGHT) | 1)
        low = cv2.blur(cv2.blur(luma, (box, box)), (box, box))
        residual = cv2.GaussianBlur(luma, (0, 0), 1.0)
        residual -= low
        np.clip(residual, -RESIDUAL_CLIP, RESIDUAL_CLIP, out=residual)
        _mask_bars(residual, luma, reach=box)
        if self.sum is None:
            self.sum = residual
        else:
            self.sum += residual
        self.frames += 1

    def result(self, key: MarkKey) -> MarkResult:
        """The mark under `key` in the frames added so far (the sum is kept: another key can be tried).

        Its details give the scale in the copy's own pixels (the reduction undone) and the copy's size."""
        if self.sum is None:
            return MarkResult(False, None, 0.0, None, 0.0, 0, {"reason": "no frames"}, key)
        result = _read(self.sum, self.frames, key)
        details = {**result.details, "size": self.size}
        if self.factor > 1:
            details["downscale"] = self.factor
            if "scale" in details:
                details["scale"] = tuple(round(s * self.factor, 5) for s in details["scale"])
        result.details = details
        return result


def _edge_run(levels: np.ndarray) -> int:
    """How many entries from the start of `levels` are dark enough to be a bar (0 when fewer than MIN_BAR)."""
    bright = np.nonzero(levels > BAR_LEVEL)[0]
    run = int(bright[0]) if len(bright) else len(levels)
    return run if run >= MIN_BAR else 0


def _mask_bars(residual: np.ndarray, luma: np.ndarray, reach: int) -> None:
    """Zero the residual over letterbox and pillarbox bars and as far into the picture as the band-pass reaches.

    A bar carries no usable mark (black clips the pattern's negative half), and the straight edge
    between bar and picture is a strong line the band-pass turns into a signal of its own, at the
    same rows in every frame: summed, it biases the cells along it and, at 4K 2.39:1, cost up to 10
    of the 10 bit errors BCH corrects (found by a CI run, 2026-12-07). Leaving those rows out leaves
    only picture to read.
    """
    h, w = luma.shape
    rows, columns = luma.max(axis=1), luma.max(axis=0)
    top, bottom = _edge_run(rows), _edge_run(rows[::-1])
    left, right = _edge_run(columns), _edge_run(columns[::-1])
    if top:
        residual[:min(h, top + reach)] = 0
    if bottom:
        residual[max(0, h - bottom - reach):] = 0
    if left:
        residual[:, :min(w, left + reach)] = 0
    if right:
        residual[:, max(0, w - right - reach):] = 0


def _fold(residual: np.ndarray, sx: float, sy: float, tile: int = TILE) -> np.ndarray:
    """Resample the summed residual to mark scale and fold it onto one tile (sum per pixel).

    `tile` < TILE folds at reduced resolution: `residual` is then that much smaller too."""
    h, w = residual.shape
    out_w, out_h = max(1, int(w / sx)), max(1, int(h / sy))
    # Pixel centres: copy x = sx·(mark x + 0.5) − 0.5.
    matrix = np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5]], np.float64)
    resampled = cv2.warpAffine(residual, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    ny, nx = -(-out_h // tile), -(-out_w // tile)
    padded = np.zeros((ny * tile, nx * tile), np.float32)
    padded[:out_h, :out_w] = resampled
    return padded.reshape(ny, tile, nx, tile).sum(axis=(0, 2), dtype=np.float64)


def _sync(folded: np.ndarray, secret: bytes | None) -> tuple[float, int, int]:
    """Sync correlation over every cyclic shift: (z of the peak, row shift, column shift)."""
    size = folded.shape[0]
    surface = np.fft.irfft2(np.fft.rfft2(folded) * _sync_spectrum(secret, size), s=folded.shape)
    peak = int(np.argmax(surface))
    dy, dx = divmod(peak, size)
    median = float(np.median(surface))
    spread = 1.4826 * float(np.median(np.abs(surface - median)))
    z = (float(surface.flat[peak]) - median) / spread if spread > 0 else 0.0
    return z, dy, dx


@lru_cache(maxsize=16)
def _sync_spectrum(secret: bytes | None, size: int) -> np.ndarray:
    """The sync pattern's conjugate spectrum at `size` (full and half resolution), once per key."""
    layout = _layout(secret)
    chips = np.zeros(N_CELLS, np.float32)
    chips[layout.sync_cells] = layout.sync_signs
    tile = _tile(chips)
    if size != TILE:
        tile = cv2.resize(tile, (size, size), interpolation=cv2.INTER_AREA)
    return np.conj(np.fft.rfft2(tile.astype(np.float64)))


def _coarse_scales(residual: np.ndarray, secret: bytes | None, count: int = 3) -> list[tuple[float, float]]:
    """Isotropic scales where a half-resolution fold shows the strongest sync peaks."""
    h, w = residual.shape
    half = cv2.resize(residual, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    lo, hi = SCALE_RANGE
    hi = min(hi, min(h, w) / TILE)  # at least one whole tile in the copy
    steps = int(np.ceil(np.log(hi / lo) / np.log1p(COARSE_STEP))) + 1
    scales = lo * (1 + COARSE_STEP) ** np.arange(steps)
    scores = np.array([_sync(_fold(half, s, s, TILE // 2), secret)[0] for s in scales])
    is_max = np.ones(len(scores), bool)
    is_max[1:] &= scores[1:] >= scores[:-1]
    is_max[:-1] &= scores[:-1] > scores[1:]
    best = np.nonzero(is_max)[0]
    best = best[np.argsort(scores[best])[::-1][:count]]
    return [(float(scales[i]), float(scales[i])) for i in best]


def _period_candidates(residual: np.ndarray, axis: int, count: int = 2) -> list[float]:
    """Tile periods (in copy pixels) suggested by the autocorrelation along one axis (a strong
    mark shows there even when the copy was scaled differently along x and y)."""
    n = residual.shape[axis]
    lo = int(np.floor(TILE * SCALE_RANGE[0]))
    hi = min(int(np.ceil(TILE * SCALE_RANGE[1])), int(n * 0.6))
    if hi <= lo + 2:
        return []
    data = residual - residual.mean()
    spectrum = np.fft.rfft(data, n=2 * n, axis=axis)
    power = (spectrum.real ** 2 + spectrum.imag ** 2).sum(axis=1 - axis)
    profile = np.fft.irfft(power, n=2 * n)[:n] / (n - np.arange(n))
    segment = profile[lo - 1: hi + 2]
    inner = segment[1:-1]
    is_max = (inner > segment[:-2]) & (inner >= segment[2:])
    peaks = np.nonzero(is_max)[0] + lo
    peaks = peaks[np.argsort(profile[peaks])[::-1][:count]]
    periods = []
    for i in peaks:
        a, b, c = profile[i - 1], profile[i], profile[i + 1]
        curvature = a - 2 * b + c
        periods.append(float(i + (0.5 * (a - c) / curvature if curvature < 0 else 0.0)))
    return periods


def _scale_candidates(residual: np.ndarray, secret: bytes | None) -> list[tuple[float, float]]:
    xs = [p / TILE for p in _period_candidates(residual, 1)]
    ys = [p / TILE for p in _period_candidates(residual, 0)]
    candidates = _coarse_scales(residual, secret) + [(sx, sy) for sx in xs for sy in ys]
    lo, hi = SCALE_RANGE
    unique: list[tuple[float, float]] = []
    for sx, sy in candidates:
        if lo <= sx <= hi and lo <= sy <= hi and all(abs(sx - ux) > 1e-3 or abs(sy - uy) > 1e-3 for ux, uy in unique):
            unique.append((sx, sy))
    return unique


def _refine(residual: np.ndarray, sx: float, sy: float, z: float, secret: bytes | None) -> tuple[float, float, float]:
    """Coordinate search around (sx, sy) maximising the sync peak: (z, sx, sy)."""
    step = 0.008
    while step >= 0.0005:
        improved = False
        for dsx, dsy in ((step, 0), (-step, 0), (0, step), (0, -step), (step, step), (-step, -step)):
            cx, cy = sx * (1 + dsx), sy * (1 + dsy)
            cz = _sync(_fold(residual, cx, cy), secret)[0]
            if cz > z:
                sx, sy, z, improved = cx, cy, cz, True
        if not improved:
            step /= 2
    return z, sx, sy


def _cell_values(tile: np.ndarray, dy: int, dx: int) -> np.ndarray:
    aligned = np.roll(tile, (-dy, -dx), axis=(0, 1))
    cells = aligned.reshape(CELLS, CELL, CELLS, CELL) * _bump()[None, :, None, :]
    return cells.sum(axis=(1, 3)).reshape(-1)


def _cancel_crosstalk(values: np.ndarray, layout: _Layout, rounds: int = 2, radius: int = 2) -> np.ndarray:
    """Remove neighbour cross-talk: fit each cell's response to its (2r+1)² neighbours' chips
    (sync chips known, code chips from the current decisions), subtract the neighbours' part."""
    decided = np.sign(values)
    decided[layout.sync_cells] = layout.sync_signs
    offsets = [(a, b) for a in range(-radius, radius + 1) for b in range(-radius, radius + 1)]
    centre = offsets.index((0, 0))
    cleaned = values
    for _ in range(rounds):
        grid = decided.reshape(CELLS, CELLS)
        design = np.stack([np.roll(grid, off, axis=(0, 1)).reshape(-1) for off in offsets], axis=1)
        response, *_ = np.linalg.lstsq(design, values, rcond=None)
        cleaned = values - (design @ response - design[:, centre] * response[centre])
        decided = np.sign(cleaned)
        decided[layout.sync_cells] = layout.sync_signs
    return cleaned


def _read(residual: np.ndarray, frames: int, key: MarkKey) -> MarkResult:
    residual = residual.astype(np.float32)
    secret, layout = key.secret, _layout(key.secret)
    trials = []
    for sx, sy in _scale_candidates(residual, secret):
        z, dy, dx = _sync(_fold(residual, sx, sy), secret)
        trials.append((z, sx, sy))
    if not trials:  # the picture is too small to hold one tile at any scale searched
        return MarkResult(False, None, 0.0, None, 0.0, frames, {"reason": "picture too small",
                                                                "size": residual.shape[::-1]}, key)
    trials.sort(reverse=True)
    # Refine the two best candidates (a mark off by a little in scale still shows a clear peak).
    z, sx, sy = max(_refine(residual, sx, sy, z, secret) if z >= REFINE_MIN_Z else (z, sx, sy)
                    for z, sx, sy in trials[:2])
    tile = _fold(residual, sx, sy)
    z, dy, dx = _sync(tile, secret)
    details = {"scale": (round(sx, 5), round(sy, 5)), "offset": (dy, dx), "size": residual.shape[::-1],
               "candidates": [(round(t[0], 2), round(t[1], 4), round(t[2], 4)) for t in trials]}
    if z < SYNC_MIN_Z:
        return MarkResult(False, None, 0.0, None, z, frames, {**details, "reason": "no sync"}, key)
    values = _cancel_crosstalk(_cell_values(tile, dy, dx), layout)
    soft = values[layout.code_cells] * layout.scramble  # > 0 means code bit 0
    hard = (soft < 0).astype(np.uint8)
    details["code_bits"] = f"{_from_bits(hard):032x}"  # the raw hard decisions, bit i = code bit i
    decoded = _BCH_CODE.decode(_from_bits(hard))
    if decoded is None:
        return MarkResult(False, None, 0.0, None, z, frames, {**details, "reason": "no codeword within "
                                                                                   f"{MAX_BIT_ERRORS} bits"}, key)
    mark_id, _ = decoded
    code = mark_codeword(mark_id)
    errors = int(np.count_nonzero(code != hard))
    signs = 1.0 - 2.0 * code
    confidence = float(max(0.0, (soft * signs).sum() / max(np.abs(soft).sum(), 1e-12)))
    if errors > MAX_BIT_ERRORS:  # cannot happen with a bounded-distance decoder; kept as the rule
        return MarkResult(False, None, 0.0, errors, z, frames, {**details, "reason": "too many bit errors"}, key)
    return MarkResult(True, mark_id, confidence, errors, z, frames, details, key)


def detect_mark(frames: Iterable[np.ndarray], *, key: MarkKey) -> MarkResult:
    """Read the mark made under `key` from decoded frames (RGB (h, w, 3) uint8, or luma (h, w)), all one size.

    The frames may be from anywhere in the copy; ~3 s (72 frames) is enough after H.264, a
    scale to 720p or a 10 % crop. A mark made under another key is not found."""
    detector = MarkDetector()
    for frame in frames:
        detector.add(frame)
    return detector.result(key)


def detect_mark_in_file(path: str | Path, keys: Sequence[MarkKey], max_frames: int = 240,
                        start_seconds: float = 0.0) -> MarkResult:
    """Decode up to `max_frames` frames of `path` (from `start_seconds`) with PyAV and read the mark.

    `keys` are tried in order on the same decoded frames: the result is the first key's that finds a
    mark, else the first key's. Tries a read after 48 and 96 frames and stops as soon as a mark is found."""
    if not keys:
        raise ValueError("detect_mark_in_file needs at least one key")
    detector = MarkDetector()
    result = None
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if start_seconds > 0 and stream.time_base is not None:
            container.seek(int(start_seconds / stream.time_base), stream=stream)
        for frame in container.decode(stream):
            if start_seconds > 0 and frame.time is not None and frame.time < start_seconds - 1e-6:
                continue
            detector.add(frame.to_ndarray(format="gray"))
            if detector.frames in TRY_FRAMES:
                result = _first_found(detector, keys)
                if result.found:
                    return result
            if detector.frames >= max_frames:
                break
    if detector.frames == 0:
        raise ValueError(f"{path}: no video frames")
    if result is not None and result.frames == detector.frames:
        return result
    return _first_found(detector, keys)


def _first_found(detector: MarkDetector, keys: Sequence[MarkKey]) -> MarkResult:
    results = []
    for key in keys:
        results.append(detector.result(key))
        if results[-1].found:
            return results[-1]
    return results[0]


# --------------------------------------------------------------------------------------------
# C2PA soft binding


def soft_binding_assertion(mark_id: int, key: MarkKey) -> dict:
    """The C2PA soft-binding assertion naming this mark (value: base64 of the id, 8 bytes big-endian).

    Its algorithm says which pattern carries the id (KEYED_ALG: reading it needs the production's key)."""
    value = base64.b64encode(_check_id(mark_id).to_bytes(8, "big")).decode("ascii")
    return {"label": "c2pa.soft-binding",
            "data": {"alg": key.algorithm, "blocks": [{"scope": {}, "value": value}]}}


def mark_id_from_soft_binding(assertion: dict) -> int:
    """The mark id in a soft-binding assertion made by `soft_binding_assertion` (ValueError otherwise)."""
    data = assertion.get("data", assertion)
    if data.get("alg") not in (KEYED_ALG, PUBLIC_ALG):
        raise ValueError(f"soft binding algorithm {data.get('alg')!r} is not {KEYED_ALG} or {PUBLIC_ALG}")
    raw = base64.b64decode(data["blocks"][0]["value"], validate=True)
    if len(raw) != 8:
        raise ValueError("soft binding value is not a 64-bit mark id")
    return int.from_bytes(raw, "big")
