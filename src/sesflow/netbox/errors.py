"""Typed errors for NetBox's answers, with its field messages so callers and logs can say what was wrong."""

from __future__ import annotations

from collections.abc import Mapping


class NetBoxError(Exception):
    """Anything that went wrong talking to NetBox."""


class NetBoxUnavailable(NetBoxError):
    """NetBox could not be reached, or kept failing, until the deadline passed."""


class NetBoxTokenSecretError(NetBoxError):
    """The Secrets Manager secret meant to hold the API token holds something else; the message names the
    form found, never the secret's value."""


class NetBoxHTTPError(NetBoxError):
    """NetBox answered with an error status; `messages` maps each field (or `detail`) to NetBox's messages."""

    def __init__(self, status: int, method: str, path: str, body: object) -> None:
        self.status = status
        self.method = method
        self.path = path
        self.body = body
        self.messages = field_messages(body)
        summary = "; ".join(f"{name}: {' '.join(texts)}" for name, texts in self.messages.items())
        super().__init__(f"{method} {path} -> {status}: {summary or repr(body)}")


class NetBoxValidationError(NetBoxHTTPError):
    """400: NetBox refused the data (a bad field, a refused transition)."""

    @property
    def refused_ids(self) -> tuple[int, ...]:
        """For a bulk write, which NetBox applies all or none: the ids of the objects it refused."""
        errors = self.body.get("errors") if isinstance(self.body, Mapping) else None
        if not isinstance(errors, list):
            return ()
        return tuple(
            item["id"] for item in errors if isinstance(item, Mapping) and isinstance(item.get("id"), int)
        )


class NetBoxPermissionError(NetBoxHTTPError):
    """401/403: the token is missing, invalid, or lacks a permission."""


class NetBoxNotFound(NetBoxHTTPError):
    """404: no such object (or endpoint)."""


class NetBoxConflict(NetBoxHTTPError):
    """409/412: the object changed since it was read (If-Match failed) or conflicts with another."""


class NetBoxThrottled(NetBoxHTTPError):
    """429 that outlasted the deadline."""


class NetBoxServerError(NetBoxHTTPError):
    """5xx that retries did not cure, or one that must not be retried."""


_BY_STATUS: Mapping[int, type[NetBoxHTTPError]] = {
    400: NetBoxValidationError,
    401: NetBoxPermissionError,
    403: NetBoxPermissionError,
    404: NetBoxNotFound,
    409: NetBoxConflict,
    412: NetBoxConflict,
    429: NetBoxThrottled,
}


def error_for(status: int, method: str, path: str, body: object) -> NetBoxHTTPError:
    kind = _BY_STATUS.get(status, NetBoxServerError if status >= 500 else NetBoxHTTPError)
    return kind(status, method, path, body)


def field_messages(body: object, prefix: str = "") -> dict[str, tuple[str, ...]]:
    """NetBox's error bodies as {field: messages}. It sends lists, bare strings (e.g. under `timestamp`),
    nested objects, and for bulk requests one object per item (keyed here as `[index].field`)."""
    if isinstance(body, Mapping):
        found: dict[str, tuple[str, ...]] = {}
        for name, value in body.items():
            key = f"{prefix}.{name}" if prefix else str(name)
            if isinstance(value, str):
                found[key] = (value,)
            elif isinstance(value, list) and all(isinstance(item, str) for item in value):
                found[key] = tuple(value)
            else:
                found.update(field_messages(value, key))
        return found
    if isinstance(body, list):
        found = {}
        for index, item in enumerate(body):
            found.update(field_messages(item, f"{prefix}[{index}]"))
        return found
    if isinstance(body, str) and body:
        return {prefix or "detail": (body,)}
    return {}
