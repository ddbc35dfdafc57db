"""The KIE client's own errors, and KIE's envelope codes in kiebot's vocabulary.

KieError                    root; never holds the API key, an input or a Telegram URL
├── KieTransportError       no usable answer: the connection failed, broke off or timed out
│   └── KieTimeoutError     the call ran out of time
├── KieHttpError            an answer that is not KIE's JSON envelope (e.g. a proxy's 502 page)
├── KieProtocolError        a JSON answer not shaped as API.md documents it
├── KieApiError             an envelope whose ``code`` is not 200
├── KieRefusedUrlError      a URL kiebot never sends to KIE (a Telegram file URL); a ValueError
└── KieCallbackError        a callback that fails verification or cannot be parsed

Only ``kiebot_kie`` sees these: ``KieGenerationGateway`` translates them into the core's
``ProviderError``/``NotFoundError``. ``CODE_REASONS`` maps every code API.md documents to a
``ReasonCode``; the core's policy table says who can act on it (user fix, retry, operator,
terminal).
"""

import re
from collections.abc import Mapping

import attrs

from kiebot_core.domain.reasons import ReasonCode


class KieError(Exception):
    """Root of the KIE client's errors; fields are rendered lazily and never hold secrets."""

    def __str__(self) -> str:
        cls = type(self)
        fields = attrs.fields(cls) if attrs.has(cls) else ()
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields if f.repr)
        return f"{cls.__name__}({shown})"


@attrs.frozen
class KieTransportError(KieError):
    """The call got no usable answer.

    ``maybe_sent`` is False only when the request certainly never left (the connection was
    never established); a create call with ``maybe_sent`` may have made a task.
    """

    endpoint: str
    problem: str
    maybe_sent: bool = True


@attrs.frozen
class KieTimeoutError(KieTransportError):
    """The call ran out of time."""


@attrs.frozen
class KieHttpError(KieError):
    """KIE (or a proxy in front of it) answered with something that is not the JSON envelope."""

    endpoint: str
    http_status: int


@attrs.frozen
class KieProtocolError(KieError):
    """A JSON answer that does not have the documented shape; ``problems`` lists what is off."""

    endpoint: str
    problems: tuple[str, ...]


@attrs.frozen
class KieApiError(KieError):
    """An envelope whose ``code`` is not 200; ``msg`` is KIE's text (the key is scrubbed)."""

    endpoint: str
    code: int
    msg: str = ""


@attrs.frozen
class KieRefusedUrlError(KieError, ValueError):
    """kiebot refused to send a URL: Telegram file URLs carry the bot token.

    Download the file and upload its bytes (``upload_stream``) instead. ``field`` names the
    input; the URL itself is never kept.
    """

    field: str


@attrs.frozen
class KieCallbackError(KieError):
    """A callback was refused: bad or missing signature, stale timestamp, unreadable body."""

    problem: str


CODE_REASONS: Mapping[int, ReasonCode] = {
    400: ReasonCode.PROVIDER_REJECTED,  # legacy bad parameter (content policy: see below)
    401: ReasonCode.PROVIDER_AUTH,
    402: ReasonCode.PROVIDER_NO_CREDITS,
    404: ReasonCode.PROVIDER_REJECTED,
    408: ReasonCode.PROVIDER_TIMEOUT,
    409: ReasonCode.PROVIDER_REJECTED,
    413: ReasonCode.PROVIDER_REJECTED,
    422: ReasonCode.PROVIDER_REJECTED,  # our validator should have caught it: catalog drift
    429: ReasonCode.PROVIDER_RATE_LIMITED,
    430: ReasonCode.PROVIDER_RATE_LIMITED,
    433: ReasonCode.PROVIDER_NO_CREDITS,  # a sub-key's spending cap: the operator's limit
    451: ReasonCode.PROVIDER_INPUT_UNREACHABLE,
    455: ReasonCode.PROVIDER_UNAVAILABLE,
    500: ReasonCode.PROVIDER_UNAVAILABLE,
    501: ReasonCode.PROVIDER_FAILED,
    505: ReasonCode.PROVIDER_FEATURE_DISABLED,
    531: ReasonCode.PROVIDER_FAILED,
    550: ReasonCode.PROVIDER_UNAVAILABLE,
}
"""Every envelope code API.md documents (§2), as a kiebot reason code."""

NOT_ACCEPTED_CODES = frozenset({429, 430, 455, 550})
"""Codes that mean "the request was dropped": resending is safe, even for createTask."""

_CONTENT_POLICY = re.compile(
    r"content[ _-]?polic|moderat|nsfw|sensitive|safety|inappropriate|prohibited|violat"
    r"|flagged|not allowed|porn|explicit",
    re.IGNORECASE,
)
_VALIDATION = re.compile(r"required|invalid|must be|not supported|missing", re.IGNORECASE)
_URL = re.compile(r"https?://\S+", re.IGNORECASE)


def is_content_policy(text: str | None) -> bool:
    """True when KIE's message reads like a content-moderation rejection."""
    return bool(text) and _CONTENT_POLICY.search(text or "") is not None


def looks_like_validation(text: str | None) -> bool:
    """True when a message reads like a validation failure (KIE sometimes sends those as 500)."""
    return bool(text) and _VALIDATION.search(text or "") is not None


def reason_for_code(code: int, msg: str = "") -> ReasonCode:
    """The reason code for envelope ``code`` with message ``msg`` (unknown codes included).

    Content-policy wording wins over the code (KIE sends those as 400, 422 or 501); a 500 that
    reads like a validation error is a rejection, not an outage.
    """
    if is_content_policy(msg):
        return ReasonCode.CONTENT_POLICY
    if code == 500 and looks_like_validation(msg):
        return ReasonCode.PROVIDER_REJECTED
    known = CODE_REASONS.get(code)
    if known is not None:
        return known
    return ReasonCode.PROVIDER_UNAVAILABLE if code >= 500 else ReasonCode.PROVIDER_REJECTED


def reason_for_failure(fail_code: str | None, fail_msg: str | None) -> ReasonCode:
    """The reason code of a task that ended in ``fail`` (recordInfo ``failCode``/``failMsg``)."""
    if is_content_policy(fail_msg):
        return ReasonCode.CONTENT_POLICY
    code = int(fail_code) if fail_code and fail_code.strip().isdigit() else None
    match code:
        case 408:
            return ReasonCode.PROVIDER_TIMEOUT
        case 451:
            return ReasonCode.PROVIDER_INPUT_UNREACHABLE
        case 400 | 413 | 422:
            return ReasonCode.PROVIDER_REJECTED
        case _:
            return ReasonCode.PROVIDER_FAILED


def scrub(text: str, *secrets: str) -> str:
    """``text`` with every URL replaced by ``<url>`` and every secret by ``***``.

    URLs go because a media URL may be private (and a Telegram one holds a bot token).
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return _URL.sub("<url>", text)
