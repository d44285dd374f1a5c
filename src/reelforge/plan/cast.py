"""Casting: each cast character's identity conditioning, and their gray-box stand-in in the shot.

The identity conditioning of a character (prompt tokens, wardrobe, reference images,
LoRA, IP-Adapter image, identity seed) depends only on the character and on the
episode/scene (wardrobe changes), never on the shot's camera or lighting: every shot
that casts them gets the same inputs.
"""

from __future__ import annotations

from reelforge.plan.base import Frozen, LoraJob
from reelforge.spec.model import Production

FIGURE_SPACING_M = 1.1


class Figure(Frozen):
    """A cast character's gray-box stand-in: where it stands and what it wears."""

    character_id: str
    x_m: float
    z_m: float
    height_m: float
    top: str
    bottom: str
    shoes: str
    skin: str
    hair: str


def place_figures(production: Production, cast: list[str]) -> tuple[Figure, ...]:
    """Cast stands left to right in spec order, centred on the subject."""
    figures = []
    for i, character_id in enumerate(cast):
        c = production.character(character_id)
        figures.append(Figure(
            character_id=c.id, x_m=round((i - (len(cast) - 1) / 2) * FIGURE_SPACING_M, 6), z_m=0.0,
            height_m=c.height_m, top=c.wardrobe.top, bottom=c.wardrobe.bottom, shoes=c.wardrobe.shoes,
            skin=c.skin_color, hair=c.hair_color,
        ))
    return tuple(figures)


class CastMember(Frozen):
    """One cast character's identity conditioning: identical in every shot that casts them
    (within an episode/scene whose wardrobe is the same)."""

    character_id: str
    tokens: str  # the character's prompt phrase: name, description, hair, face, wardrobe
    identity_seed: int = 0  # TODO(characters): from the spec, or derived from the production seed and id
    reference_sha256s: tuple[str, ...] = ()  # reference images, by content (paths in ShotJob.assets)
    ip_adapter_image_sha256: str | None = None  # the image IP-Adapter encodes (path in ShotJob.assets)
    lora: LoraJob | None = None


def character_tokens(production: Production, character_id: str) -> str:
    lang = production.language
    from reelforge.spec.base import text_in

    character = production.character(character_id)
    looks = [text_in(character.description, lang, lang), text_in(character.hair, lang, lang),
             text_in(character.wardrobe.description, lang, lang)]
    return ", ".join([text_in(character.name, lang, lang)] + [x for x in looks if x])


def resolve_cast(production: Production, episode, scene, cast: list[str],
                 base_dir) -> tuple[tuple[CastMember, ...], tuple[Figure, ...], dict[str, str]]:
    """Cast conditioning in spec order, their figures, and the asset files they need (sha256 → path)."""
    members = tuple(CastMember(character_id=c, tokens=character_tokens(production, c)) for c in cast)
    return members, place_figures(production, cast), {}
