"""The character bible: who a character is, what they look like and wear, and how a model keeps them the same."""

from __future__ import annotations

from pydantic import Field

from reelforge.spec.base import Color, Id, LocalizedText, Strict


class Wardrobe(Strict):
    top: Color = "#7a7a7a"
    bottom: Color = "#4a4a4a"
    shoes: Color = "#2a2a2a"
    description: LocalizedText = ""


class Character(Strict):
    id: Id
    name: LocalizedText
    description: LocalizedText = ""
    hair: LocalizedText = ""
    hair_color: Color = "#3a2a1a"
    skin_color: Color = "#c89f7e"
    face: LocalizedText = ""
    wardrobe: Wardrobe = Wardrobe()
    height_m: float = Field(1.75, gt=0.3, le=3.0)
