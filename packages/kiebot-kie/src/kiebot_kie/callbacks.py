"""KIE callbacks (webhooks): find the task id, verify the signature, trust nothing else.

KIE signs ``taskId + "." + timestamp`` (not the body) with the account's webhook HMAC key:
``X-Webhook-Signature = base64(HMAC-SHA256(taskId + "." + X-Webhook-Timestamp, key))``, the
timestamp in Unix seconds. Because the body is not covered, the only thing a verified
callback tells us is *which task to look at*: the receiver re-fetches the task
(``GenerationGateway.status``) and acts on that. Callbacks may be missing, repeated, late or
out of order; polling stays the source of truth and handlers key on the task id.
"""

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from kiebot_core.domain.ids import ProviderTaskId
from kiebot_kie.converter import structure
from kiebot_kie.errors import KieCallbackError, KieProtocolError
from kiebot_kie.wire import CallbackPayload

SIGNATURE_HEADER = "X-Webhook-Signature"
TIMESTAMP_HEADER = "X-Webhook-Timestamp"
DEFAULT_MAX_SKEW_S = 300.0
"""Our policy (KIE states none): refuse callbacks signed more than 5 minutes from now."""


def sign(task_id: str, timestamp: str, key: str) -> str:
    """The ``X-Webhook-Signature`` value KIE sends for ``task_id`` at ``timestamp``."""
    message = f"{task_id}.{timestamp}".encode()
    digest = hmac.new(key.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signature_headers(task_id: str, key: str, now_s: float | None = None) -> dict[str, str]:
    """Both signature headers for a callback about ``task_id`` sent at ``now_s``."""
    timestamp = str(int(time.time() if now_s is None else now_s))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(task_id, timestamp, key)}


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    return next((item for key, item in headers.items() if key.lower() == wanted), None)


def _json(body: bytes | str | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(body, Mapping):
        return body
    try:
        parsed = json.loads(body)
    except ValueError:
        raise KieCallbackError("the body is not JSON") from None
    if not isinstance(parsed, Mapping):
        raise KieCallbackError("the body is not a JSON object")
    return parsed


def callback_task_id(body: bytes | str | Mapping[str, Any]) -> ProviderTaskId:
    """The task id a callback is about: ``data.taskId`` or ``data.task_id``.

    Raises ``KieCallbackError`` when the body holds neither.
    """
    data = _json(body).get("data")
    if isinstance(data, Mapping):
        for key in ("taskId", "task_id"):
            value = data.get(key)
            if isinstance(value, str) and value.strip():
                return ProviderTaskId(value.strip())
    raise KieCallbackError("the body names no task (data.taskId / data.task_id)")


def read_callback(body: bytes | str | Mapping[str, Any]) -> CallbackPayload:
    """The whole market callback payload, for logs and diagnosis (never act on it)."""
    try:
        return structure(_json(body), CallbackPayload, endpoint="callback")
    except KieProtocolError as error:
        raise KieCallbackError("; ".join(error.problems)) from None


def _seconds(timestamp: str) -> float:
    try:
        value = float(timestamp.strip())
    except ValueError:
        raise KieCallbackError("the timestamp is not a number") from None
    # KIE documents seconds; accept milliseconds too rather than refuse every callback.
    return value / 1000 if value > 1e11 else value


def verify_callback(
    body: bytes | str | Mapping[str, Any],
    headers: Mapping[str, str],
    *,
    hmac_key: str | None,
    now_s: float | None = None,
    max_skew_s: float = DEFAULT_MAX_SKEW_S,
) -> ProviderTaskId:
    """Check a callback and return the id of the task to re-fetch.

    With ``hmac_key`` set, the signature headers must be present, the timestamp within
    ``max_skew_s`` of ``now_s`` (default: the system clock) and the signature equal, compared
    in constant time. Without a key only the task id is read; that is still safe because the
    caller re-fetches the task. Raises ``KieCallbackError`` on any problem.
    """
    task_id = callback_task_id(body)
    if not hmac_key:
        return task_id
    timestamp = _header(headers, TIMESTAMP_HEADER)
    signature = _header(headers, SIGNATURE_HEADER)
    if not timestamp or not signature:
        raise KieCallbackError("the signature headers are missing")
    now = time.time() if now_s is None else now_s
    if abs(now - _seconds(timestamp)) > max_skew_s:
        raise KieCallbackError("the timestamp is outside the allowed window")
    expected = sign(task_id, timestamp.strip(), hmac_key)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise KieCallbackError("the signature does not match")
    return task_id
