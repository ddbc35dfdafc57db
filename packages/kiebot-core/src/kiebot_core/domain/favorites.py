"""Favorites: a model and its answers saved by a user as a preset to run again."""

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime

import attrs

from kiebot_core.domain.catalog import JsonValue
from kiebot_core.domain.ids import FavoriteId, UserId
from kiebot_core.domain.json_values import checked_json

TITLE_LENGTH = 60
"""The longest title a favorite keeps (longer ones are clipped when it is made)."""


def answers_key(answers: Mapping[str, JsonValue]) -> str:
    """The fingerprint that tells two sets of answers apart (SHA-256 of canonical JSON).

    Equal answers give equal keys whatever their key order; the stores use it to keep one
    favorite per user, model and answers.

    Raises:
        TypeError: ``answers`` is not plain JSON.
    """
    canonical = json.dumps(
        checked_json(answers),
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
        allow_nan=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _clipped_title(value: str) -> str:
    text = " ".join(value.split())
    return text if len(text) <= TITLE_LENGTH else text[: TITLE_LENGTH - 1] + "…"


@attrs.frozen(kw_only=True)
class Favorite:
    """A user's saved preset: a model id and the answers to pre-fill its wizard with.

    ``title`` is a short label for lists (the prompt, say), whitespace-collapsed and clipped to
    ``TITLE_LENGTH``; it may be empty. ``answers`` are the wizard's answers (a generation's
    input); those that no longer fit the model are dropped when the wizard starts.
    """

    id: FavoriteId
    user_id: UserId
    model_id: str
    answers: Mapping[str, JsonValue]
    created_at: datetime
    title: str = attrs.field(default="", converter=_clipped_title)

    @property
    def key(self) -> str:
        """The fingerprint of ``answers`` (see ``answers_key``)."""
        return answers_key(self.answers)
