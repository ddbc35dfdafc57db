"""The value every domain function and use case returns when it refuses."""

import attrs

from kiebot_core.domain.reasons import ReasonCode


@attrs.frozen
class Rejected:
    """An expected refusal: a reason code, the input it concerns, and a detail for logs.

    ``detail`` is English for operators and logs; users see the reason code's text.
    """

    reason: ReasonCode
    input_name: str | None = None
    detail: str = ""
