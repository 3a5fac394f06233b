"""A thin NetBox REST client on urllib3: auth, retries within a deadline, typed errors, pagination, ETags and
the object-type id cache. It knows no plugin; `notices.py` builds the plugin's operations on it."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict, Unpack
from urllib.parse import urlencode

import urllib3
from urllib3.exceptions import ConnectTimeoutError, HTTPError

from sesflow.netbox.auth import SecretReader, authorization_header, token_source
from sesflow.netbox.errors import NetBoxError, NetBoxUnavailable, error_for
from sesflow.netbox.retry import RetryPolicy, may_retry, retry_after_seconds

if TYPE_CHECKING:
    from sesflow.config import NetBoxSettings

#: NetBox's default MAX_PAGE_SIZE is 1000; 250 keeps each answer quick.
PAGE_SIZE = 250
#: The first NetBox whose detail answers carry an ETag and whose writes honour If-Match.
ETAGS_SINCE = (4, 6)
USER_AGENT = "sesflow-netbox"

#: Decoded JSON as NetBox sends it; the typed records in `records.py` give it shape.
Json = Any

Params = Mapping[str, str | int | bool | list[str] | list[int] | tuple[str, ...]]


class ClientOptions(TypedDict, total=False):
    retry: RetryPolicy
    timeout: float
    pool: urllib3.PoolManager


@dataclass(frozen=True)
class Response:
    status: int
    data: Json
    headers: Mapping[str, str]

    @property
    def etag(self) -> str | None:
        """NetBox ≥ 4.6 sends a weak ETag on detail reads; echo it in If-Match to detect a lost update."""
        return self.headers.get("ETag")


def _encode_params(params: Params | None) -> str:
    if not params:
        return ""
    pairs: list[tuple[str, str]] = []
    for name, value in params.items():
        values = value if isinstance(value, list | tuple) else [value]
        pairs += [(name, str(item).lower() if isinstance(item, bool) else str(item)) for item in values]
    return "?" + urlencode(pairs)


@dataclass(frozen=True)
class _Prepared:
    """A request as it goes on the wire, the same on every try."""

    method: str
    path: str
    url: str
    body: bytes | None
    headers: dict[str, str]


@dataclass(frozen=True)
class _Failure:
    """A try without a usable answer: the error to raise if no retry is left, and what decides a retry."""

    error: NetBoxError
    status: int | None
    sent: bool
    retry_after: float | None = None


class NetBoxClient:
    def __init__(
        self,
        url: str,
        token: str | Callable[[], str],
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 10.0,
        pool: urllib3.PoolManager | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._token = token if callable(token) else (lambda: token)
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self._pool = pool or urllib3.PoolManager(maxsize=4)
        self._sleep = self.retry.sleep
        self._clock = self.retry.clock
        self._object_types: dict[tuple[str, str], int] = {}
        self._etags: bool | None = None  # unknown until an answer or the version says

    @classmethod
    def from_settings(
        cls,
        settings: NetBoxSettings,
        read_secret: SecretReader | None = None,
        *,
        pool_size: int | None = None,
        **options: Unpack[ClientOptions],
    ) -> NetBoxClient:
        """`pool_size`: connections kept to NetBox, as many as the threads that use the client at once."""
        if pool_size is not None:
            options["pool"] = urllib3.PoolManager(maxsize=pool_size)
        return cls(settings.url, token_source(settings, read_secret), **options)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: Json = None,
        headers: Mapping[str, str] | None = None,
        repeatable: bool = False,
    ) -> Response:
        """One API call, repeated on 429/502/503/504 and connection errors while the deadline allows.

        `repeatable` marks a request that is safe to send twice whatever its method (an empty POST that
        NetBox can only refuse), so it is repeated after a lost answer too."""
        prepared = _Prepared(
            method,
            path,
            f"{self.url}{path}{_encode_params(params)}",
            json.dumps(body).encode() if body is not None else None,
            {
                "Authorization": authorization_header(self._token()),
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
                **({"Content-Type": "application/json"} if body is not None else {}),
                **(headers or {}),
            },
        )
        deadline = self._clock() + self.retry.deadline
        attempt = 0
        while True:
            tried = self._send_once(prepared, deadline)
            if isinstance(tried, Response):
                return tried
            wait = tried.retry_after if tried.retry_after is not None else self.retry.backoff(attempt)
            retry_as = "GET" if repeatable else method
            if not may_retry(retry_as, tried.status, sent=tried.sent) or self._clock() + wait > deadline:
                raise tried.error
            self._sleep(wait)
            attempt += 1

    def _send_once(self, prepared: _Prepared, deadline: float) -> Response | _Failure:
        """One try: NetBox's answer, or why there is none and whether the request may have reached it."""
        method, path = prepared.method, prepared.path
        remaining = max(0.1, deadline - self._clock())
        try:
            raw = self._pool.request(
                method,
                prepared.url,
                body=prepared.body,
                headers=prepared.headers,
                timeout=urllib3.Timeout(connect=min(3.0, remaining), read=min(self.timeout, remaining)),
                retries=False,
                redirect=False,
            )
        except ConnectTimeoutError as error:  # includes NewConnectionError: nothing was sent
            return _Failure(
                NetBoxUnavailable(f"{method} {path}: cannot connect to NetBox: {error}"), None, False
            )
        except HTTPError as error:  # reset or timed out after sending: NetBox may have acted
            return _Failure(NetBoxUnavailable(f"{method} {path}: no answer from NetBox: {error}"), None, True)
        data = _decode(raw.data)
        if raw.status >= 400 and prepared.body is not None:
            self._forget_connections()
        if raw.status >= 400:
            retry_after = retry_after_seconds(raw.headers.get("Retry-After"))
            return _Failure(error_for(raw.status, method, path, data), raw.status, True, retry_after)
        answer = Response(raw.status, data, dict(raw.headers))
        self._observe_etag(method, answer)
        return answer

    def _forget_connections(self) -> None:
        """Close the idle connections, so the next request opens a new one.

        NetBox refuses some writes before it reads their body (a stale If-Match, a missing object, a
        permission), and gunicorn's threaded worker, NetBox's usual server, then leaves the unread body on
        the keep-alive connection and stalls the next request sent on it until the client times out
        (benoitc/gunicorn#3301; 2 % of the answers to a stale If-Match here, 20 % with a 12 KB body).
        Error answers are rare, so a new connection after one costs nothing worth keeping it for."""
        self._pool.clear()

    def get(self, path: str, params: Params | None = None) -> Json:
        return self.request("GET", path, params=params).data

    def iterate(
        self, path: str, params: Params | None = None, *, brief: bool = False, page_size: int = PAGE_SIZE
    ) -> Iterator[dict[str, Any]]:
        """Every object of a list endpoint, page by page."""
        query: dict[str, Any] = {**(params or {}), "limit": page_size}
        if brief:
            query["brief"] = True
        offset = 0
        while True:
            page = self.get(path, {**query, "offset": offset})
            results: list[dict[str, Any]] = page["results"]
            yield from results
            if not page.get("next") or not results:
                return
            offset += len(results)

    def post(self, path: str, body: Json) -> Json:
        return self.request("POST", path, body=body).data

    def patch(self, path: str, body: Mapping[str, Any], *, if_match: str | None = None) -> Response:
        """PATCH; with `if_match` (an ETag read before) NetBox answers 412 if the object changed since."""
        headers = {"If-Match": if_match} if if_match else None
        return self.request("PATCH", path, body=dict(body), headers=headers)

    def object_type_id(self, app_label: str, model: str) -> int:
        """The ContentType id NetBox's generic fields take, looked up once per client."""
        key = (app_label, model)
        if key not in self._object_types:
            found = self.get(
                "/api/core/object-types/", {"app_label": app_label, "model": model, "brief": True}
            )
            if not found["results"]:
                raise NetBoxError(f"NetBox has no object type {app_label}.{model} (is the plugin installed?)")
            self._object_types[key] = int(found["results"][0]["id"])
        return self._object_types[key]

    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = self.get("/api/status/")
        return status

    def honours_etags(self) -> bool:
        """Whether this NetBox sends ETags and honours If-Match. An answer about one object settles it (a
        proxy in front may strip the headers whatever the version); before any, the version does (4.6+),
        read once per client."""
        if self._etags is None:
            self._etags = netbox_version(self.status()) >= ETAGS_SINCE
        return self._etags

    def _observe_etag(self, method: str, answer: Response) -> None:
        # Only a read or write of one object carries an ETag (lists and bulk writes never do).
        if method in {"GET", "PATCH", "PUT"} and isinstance(answer.data, dict) and "id" in answer.data:
            self._etags = answer.etag is not None


def netbox_version(status: Mapping[str, Any]) -> tuple[int, ...]:
    """`netbox-version` of /api/status/ as numbers ("4.6.0-beta2" → (4, 6, 0)); () when absent."""
    numbers: list[int] = []
    for part in str(status.get("netbox-version") or "").split("."):
        digits = "".join(itertools.takewhile(str.isdigit, part))
        if not digits:
            break
        numbers.append(int(digits))
        if len(digits) < len(part):
            break
    return tuple(numbers)


def _decode(payload: bytes) -> Json:
    if not payload:
        return None
    try:
        return json.loads(payload)
    except ValueError:
        return payload.decode(errors="replace")
