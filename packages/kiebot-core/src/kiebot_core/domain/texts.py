"""Languages and localized text values."""

import enum
import re
from collections.abc import Mapping

import attrs


class Language(enum.StrEnum):
    """A language every user-visible text must exist in."""

    RU = "ru"
    EN = "en"


DEFAULT_LANGUAGE = Language.EN


def language_for(code: str | None) -> Language:
    """Map a language code to a language.

    Accepts Telegram's ``language_code`` (``ru``, ``en-US``) and POSIX locales
    (``ru_RU.UTF-8``). Unknown or missing codes give the default language (English).
    """
    prefix = re.split(r"[-_.@]", code or "", maxsplit=1)[0].lower()
    try:
        return Language(prefix)
    except ValueError:
        return DEFAULT_LANGUAGE


@attrs.frozen
class Localized:
    """One text in every language; built only through :meth:`from_mapping`."""

    texts: Mapping[Language, str]

    @classmethod
    def from_mapping(cls, raw: Mapping[str, str]) -> "Localized":
        """Build from ``{"ru": ..., "en": ...}``; raises ValueError if a language is missing."""
        missing = [lang.value for lang in Language if not (raw.get(lang.value) or "").strip()]
        if missing:
            raise ValueError(f"text missing for {', '.join(missing)}")
        return cls({lang: raw[lang.value] for lang in Language})

    def __call__(self, language: Language) -> str:
        """The text in ``language``."""
        return self.texts[language]
