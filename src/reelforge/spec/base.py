"""Building blocks shared by every part of the spec: strict objects, ids, colours, localized text."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
Id = Annotated[str, Field(pattern=ID_PATTERN, description="lower-case id: letters, digits, '-' and '_'")]
Color = Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$", description="sRGB colour as #rrggbb")]
# Colours are compared and keyed as written in lower case: "#FFAA00" and "#ffaa00" are one colour.
Colour = Annotated[Color, AfterValidator(str.lower)]

# Text a user may give once (in the production's source language) or per language,
# keyed by BCP 47 tag: "A dark harbor" or {"en": "A dark harbor", "fr": "Un port sombre"}.
LocalizedText = str | dict[str, str]


class Strict(BaseModel):
    """Base for every spec object: unknown fields are errors (they are usually typos)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def text_in(text: LocalizedText, language: str, fallback: str) -> str:
    """Resolve a LocalizedText in one language, falling back to the source language."""
    if isinstance(text, str):
        return text
    return text.get(language) or text.get(fallback) or ""


def short_text(text: str, limit: int = 40) -> str:
    """`text` cut to `limit` characters with an ellipsis: a message quotes a name, not a pasted page."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def seconds_text(value: float) -> str:
    """A time as messages write it: to the millisecond, without trailing zeros (1.5, 0.333, 2)."""
    return f"{value:.3f}".rstrip("0").rstrip(".")
