"""The character bible: who a character is, what they look like and wear, and how a model keeps them the same.

A character is written once and cast by id into shots. Everything here is identity: it
is the same in every shot that casts the character, whatever the camera or lighting,
except the wardrobe, which may change per episode or per scene (`wardrobe_changes`).
Files (reference images, LoRA, IP-Adapter image) are paths relative to the spec; a job
keys them by content, never by path (`reelforge.plan.cast`).
"""

from __future__ import annotations

from pydantic import Field

from reelforge.spec.base import Colour as Color
from reelforge.spec.base import Id, LocalizedText, Strict

WARDROBE_FIELDS = ("top", "bottom", "shoes", "description")


class Wardrobe(Strict):
    """What a character wears: colours of the previz figure's clothes, and the prompt's words for them."""

    top: Color = "#7a7a7a"
    bottom: Color = "#4a4a4a"
    shoes: Color = "#2a2a2a"
    description: LocalizedText = Field("", description="the clothes in words, for the prompt (e.g. 'red oilskin coat')")


class WardrobeChange(Strict):
    """A different wardrobe for one episode, or one scene of an episode.

    Only the fields given change: the rest come from the episode's change (for a scene)
    or the character's own wardrobe. A scene's change beats its episode's, which beats
    the character's wardrobe.
    """

    episode: Id = Field(description="the episode id this change applies to")
    scene: Id | None = Field(None, description="a scene id in that episode; absent: the whole episode")
    wardrobe: Wardrobe = Field(description="the fields that change, e.g. {\"top\": \"#2f7a3a\", "
                                           "\"description\": \"green raincoat\"}")


class CharacterLora(Strict):
    """A LoRA trained on the character, loaded into diffusers backends for every shot that casts them."""

    path: str = Field(min_length=1, description="a .safetensors file, relative to the spec")
    weight: float = Field(1.0, ge=-2, le=2, description="adapter weight")
    trigger: str | None = Field(None, min_length=1, description="the token the LoRA was trained on; "
                                                                "put first in the character's prompt tokens")


class Character(Strict):
    id: Id
    name: LocalizedText
    description: LocalizedText = ""
    hair: LocalizedText = ""
    hair_color: Color = "#3a2a1a"
    skin_color: Color = "#c89f7e"
    face: LocalizedText = ""
    wardrobe: Wardrobe = Wardrobe()
    wardrobe_changes: list[WardrobeChange] = Field([], description="wardrobe per episode or scene, when it changes")
    height_m: float = Field(1.75, gt=0.3, le=3.0)
    references: list[str] = Field([], description="reference images (relative to the spec); each version is "
                                                  "kept by content hash under .reelforge/assets")
    lora: CharacterLora | None = None
    ip_adapter_image: str | None = Field(None, min_length=1, description="the image an IP-Adapter encodes "
                                                                         "(default: the first reference image)")
    ip_adapter_scale: float | None = Field(None, ge=0, le=2, description="how strongly the IP-Adapter image "
                                                                         "conditions this character's pixels "
                                                                         "(default: $.model.ip_adapter_scale)")
    identity_seed: int | None = Field(None, ge=0, le=2**63 - 1, description="shapes the previz figure; default "
                                                                            "derived from the master seed and the id")

    def wardrobe_for(self, episode_id: str, scene_id: str) -> Wardrobe:
        """The wardrobe worn in one scene: the scene's change beats the episode's beats the default, field by field."""
        merged = self.wardrobe.model_dump()
        for level in (None, scene_id):  # the episode's change first, then the scene's on top
            for change in self.wardrobe_changes:
                if change.episode == episode_id and change.scene == level:
                    merged.update({name: getattr(change.wardrobe, name)
                                   for name in WARDROBE_FIELDS if name in change.wardrobe.model_fields_set})
        return Wardrobe(**merged)
