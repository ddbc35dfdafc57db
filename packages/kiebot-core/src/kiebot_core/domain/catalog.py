"""The model registry's shapes: models, their inputs, rules and price tables (data only)."""

import enum
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TypeAlias

import attrs

from kiebot_core.domain.texts import Language, Localized

JsonValue: TypeAlias = str | int | float | bool | list["JsonValue"] | dict[str, "JsonValue"] | None
"""A value as it travels in KIE's JSON ``input`` object."""


class Category(enum.StrEnum):
    """What a model produces."""

    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"


class InputKind(enum.StrEnum):
    """An input's type, exactly as the catalog names it."""

    STRING = "string"
    ENUM = "enum"
    BOOLEAN = "boolean"
    INTEGER = "integer"
    NUMBER = "number"
    IMAGE_URL = "image_url"
    IMAGE_URLS = "image_urls"
    VIDEO_URL = "video_url"
    VIDEO_URLS = "video_urls"
    AUDIO_URL = "audio_url"
    AUDIO_URLS = "audio_urls"
    ARRAY = "array"


class MediaKind(enum.StrEnum):
    """The kind of a media file (an input the user sends, or a result)."""

    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"


MEDIA_OF_KIND: Mapping[InputKind, MediaKind] = {
    InputKind.IMAGE_URL: MediaKind.IMAGE,
    InputKind.IMAGE_URLS: MediaKind.IMAGE,
    InputKind.VIDEO_URL: MediaKind.VIDEO,
    InputKind.VIDEO_URLS: MediaKind.VIDEO,
    InputKind.AUDIO_URL: MediaKind.AUDIO,
    InputKind.AUDIO_URLS: MediaKind.AUDIO,
}
LIST_KINDS = frozenset(
    {InputKind.IMAGE_URLS, InputKind.VIDEO_URLS, InputKind.AUDIO_URLS, InputKind.ARRAY}
)


class ResultKind(enum.StrEnum):
    """What a successful task returns."""

    IMAGE_URLS = "image_urls"
    VIDEO_URLS = "video_urls"
    AUDIO_URLS = "audio_urls"
    OBJECT = "object"


class PriceBasis(enum.StrEnum):
    """What a price row is multiplied by."""

    RUN = "run"
    """One charge per task."""
    OUTPUT = "output"
    """Per produced file: the rate times the model's count input (1 without one)."""
    SECOND = "second"
    """Per second of output (the duration input) or of the user's media."""
    MEGAPIXEL = "megapixel"
    """Per megapixel of output: the image size preset's area times the count input."""
    KCHAR = "kchar"
    """Per 1000 characters of text."""


class DisabledReason(enum.StrEnum):
    """Why a model in the catalog cannot be run."""

    LEGACY_UNVERIFIED = "legacy_unverified"
    PRICE_UNKNOWN = "price_unknown"
    INVALID_SPEC = "invalid_spec"
    OPERATOR = "operator"


@attrs.frozen
class InputUi:
    """How an input is presented: its title, help and example in every language."""

    title: Localized
    help: Localized
    example: Localized


@attrs.frozen(kw_only=True)
class InputSpec:
    """One input of a model, with the limits KIE documents for it."""

    name: str
    kind: InputKind
    required: bool
    default: JsonValue = None
    enum: tuple[JsonValue, ...] | None = None
    value_type: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    min_items: int | None = None
    max_items: int | None = None
    item_type: str | None = None
    item_fields: tuple[str, ...] = ()
    description: str = ""
    ui: InputUi

    @property
    def media_kind(self) -> MediaKind | None:
        """The media kind for URL inputs, else None."""
        return MEDIA_OF_KIND.get(self.kind)

    @property
    def is_list(self) -> bool:
        """True when the value is a JSON array."""
        return self.kind in LIST_KINDS

    @property
    def has_default(self) -> bool:
        """True when KIE documents a default for this input."""
        return self.default is not None

    def example(self, language: Language) -> str | None:
        """The overlay's example in ``language``, or None where it would mislead.

        Examples are written per input name and shared by every model; a choice input whose
        own options do not include the example shows none (its options speak for themselves).
        """
        text = self.ui.example(language)
        if self.enum is not None and text not in {str(option) for option in self.enum}:
            return None
        return text


@attrs.frozen
class ExactlyOneOf:
    """Exactly one of ``inputs`` must be given."""

    inputs: tuple[str, ...]


@attrs.frozen
class AtLeastOneOf:
    """At least one of ``inputs`` must be given."""

    inputs: tuple[str, ...]


@attrs.frozen
class RequiredWhen:
    """``input_name`` is required when every input in ``when`` has the value given there."""

    input_name: str
    when: Mapping[str, JsonValue]


Rule: TypeAlias = ExactlyOneOf | AtLeastOneOf | RequiredWhen


@attrs.frozen
class PriceRow:
    """A rate that applies when each key's value is one of its alternatives."""

    when: Mapping[str, tuple[JsonValue, ...]]
    credits: Decimal


@attrs.frozen(kw_only=True)
class PriceSpec:
    """A model's price table in KIE credits and how a concrete run multiplies it."""

    basis: PriceBasis
    unit: str
    credits: Decimal | None
    rows: tuple[PriceRow, ...] = ()
    count_input: str | None = None
    count_when_omitted: int = 1
    duration_input: str | None = None
    frames_inputs: tuple[str, str] | None = None
    max_seconds: int | None = None
    max_megapixels: Decimal | None = None

    @property
    def keys(self) -> frozenset[str]:
        """Every name the rows branch on (inputs and derived facts)."""
        return frozenset(key for row in self.rows for key in row.when)


@attrs.frozen(kw_only=True)
class ModelSpec:
    """One model of the registry: the machine layer merged with its UI overlay."""

    id: str
    family: str
    category: Category
    flow: str
    modes: tuple[str, ...] = ()
    status: str
    inputs: tuple[InputSpec, ...]
    asked: tuple[str, ...]
    rules: tuple[Rule, ...] = ()
    result_kind: ResultKind
    price: PriceSpec
    title: Localized
    pitch: Localized
    popularity: int = 0
    tags: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    disabled: DisabledReason | None = None
    disabled_detail: str = ""

    @property
    def enabled(self) -> bool:
        """True when the model can be run."""
        return self.disabled is None

    @property
    def flows(self) -> tuple[str, ...]:
        """The main flow followed by the extra flows a multi-mode model covers."""
        return (self.flow, *(mode for mode in self.modes if mode != self.flow))

    def input(self, name: str) -> InputSpec | None:
        """The input called ``name``, or None."""
        return next((spec for spec in self.inputs if spec.name == name), None)

    def searchable_text(self) -> str:
        """Lower-cased text the registry's full-text search matches against."""
        words = [self.id, self.family, *self.tags, *(self.title(lang) for lang in Language)]
        return " ".join(words).lower()


@attrs.frozen
class MenuSection:
    """A main-menu entry grouping flows by what people want to do."""

    id: str
    title: Localized
    flows: tuple[str, ...]


@attrs.frozen
class Registry:
    """Every model kiebot knows, with the queries the shells need.

    Disabled models are kept (with their reason) so operators can see why; the queries that
    serve users return enabled models only.
    """

    models: tuple[ModelSpec, ...]
    sections: tuple[MenuSection, ...]
    flow_titles: Mapping[str, Localized]

    _by_id: Mapping[str, ModelSpec] = attrs.field(init=False, repr=False, eq=False)

    @_by_id.default
    def _index(self) -> Mapping[str, ModelSpec]:
        return {model.id: model for model in self.models}

    def get(self, model_id: str) -> ModelSpec | None:
        """The model with this id (enabled or not), or None."""
        return self._by_id.get(model_id)

    def enabled(self) -> tuple[ModelSpec, ...]:
        """Enabled models, most popular first."""
        return tuple(
            sorted(
                (model for model in self.models if model.enabled),
                key=lambda model: (-model.popularity, model.id),
            )
        )

    def disabled(self) -> Mapping[str, DisabledReason]:
        """The reason of every disabled model, by id."""
        return {model.id: model.disabled for model in self.models if model.disabled is not None}

    def by_category(self, category: Category) -> tuple[ModelSpec, ...]:
        """Enabled models producing ``category``, most popular first."""
        return tuple(model for model in self.enabled() if model.category is category)

    def by_flow(self, flow: str) -> tuple[ModelSpec, ...]:
        """Enabled models that can do ``flow`` (as main flow or extra mode), most popular first."""
        return tuple(model for model in self.enabled() if flow in model.flows)

    def popular(self, limit: int = 10) -> tuple[ModelSpec, ...]:
        """The ``limit`` most popular enabled models."""
        return self.enabled()[:limit]

    def search(self, text: str) -> tuple[ModelSpec, ...]:
        """Enabled models whose id, family, tags or titles contain every word of ``text``."""
        words = text.lower().split()
        return tuple(
            model
            for model in self.enabled()
            if words and all(word in model.searchable_text() for word in words)
        )

    def with_models(self, models: Sequence[ModelSpec]) -> "Registry":
        """A copy holding ``models`` instead (used for runtime toggles)."""
        return attrs.evolve(self, models=tuple(models))
