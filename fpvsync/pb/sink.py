"""The PocketBase writer: superuser authentication, listing a scope's hashes, batched upserts and deletes.

It knows nothing of FPVTrackside: callers hand it :class:`Upsert` and :class:`Delete` operations in the order they
must be applied, and a :class:`~fpvsync.summary.SyncSummary` to count into::

    with PocketBaseSink.from_settings(settings) as sink:
        stored = sink.existing_hashes("laps", f"race = {filter_string(race_id)}")
        sink.write([Upsert(collection="laps", id=..., body=..., scope=..., source_id=..., exists=False)], summary)

Writes go through PocketBase's batch API (``POST /api/batch``), one transaction per chunk of ``batch_size``
operations. A chunk that PocketBase rejects is narrowed down, so that only the records PocketBase refuses fail
(each one counted as ``failed`` with a readable message) and their neighbours are written.

Inside a batch, a record the caller knows to be new (``exists=False``) is created (``POST``) and one it knows to
exist is updated (``PATCH``): PocketBase 0.40 takes creates about a quarter faster, and updates about a tenth
faster, than upserts (``PUT``, create or replace). When the caller's knowledge was stale (the record exists after
all, or is gone), the chunk is sent again from that record on as upserts, which are right either way.

Errors are translated here, from the SDK's ``ClientResponseError``, and only here:

- no answer (connection refused, timeout)       → :class:`~fpvsync.errors.SinkUnreachable`
- 5xx or 429, still after a few short retries   → :class:`~fpvsync.errors.SinkUnreachable`
- 401/403 (an expired token reads as a guest,   → log in once more and repeat the request; refused again:
  so writes get 403)                              :class:`~fpvsync.errors.AuthError`
- other 4xx from :meth:`PocketBaseSink.send`     → :class:`~fpvsync.errors.SinkRejected`
- a record that cannot be sent as JSON, or that → that record fails (counted ``failed``, with an error); the
  PocketBase cannot read (400 naming no request)  others are written: it is neither "unreachable" nor a reason
                                                  to stop the run

Messages never contain the password or the token.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final

import httpx
from pocketbase import PocketBase
from pocketbase.errors import ClientResponseError
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from fpvsync.config import ENV_PREFIX, Settings
from fpvsync.deadline import TOTAL_DEADLINE_FACTOR, deadline_transport
from fpvsync.errors import AuthError, ConfigError, SinkRejected, SinkUnreachable
from fpvsync.summary import SyncSummary

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "Delete",
    "Operation",
    "PocketBaseSink",
    "Progress",
    "Upsert",
    "filter_string",
]

logger = logging.getLogger("fpvsync.pb")

#: Operations per ``/api/batch`` request, from ``scripts/measure_batch_size.py`` (10,000 detections, 2 cores):
#: creates/s 3510 at 50, 3659 at 100, 3933 at 200, 4080 at 500, 4122 at 1000 (updates peak at 500 too). 500 is
#: as fast as 1000 and halves what a refused batch costs to narrow down (the server allows 1000).
DEFAULT_BATCH_SIZE: Final = 500
#: PocketBase clamps ``perPage`` to 1000.
PAGE_SIZE: Final = 1000
#: Attempts per request when PocketBase answers 5xx or 429.
ATTEMPTS: Final = 3
SUPERUSERS: Final = "_superusers"

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Upsert:
    """Create or replace the record ``id`` of ``collection`` with ``body`` (every field; the sink adds ``id``)."""

    collection: str
    id: str
    body: dict[str, Any]
    #: Where the record comes from, for error reports (``"race <raceId>"``).
    scope: str
    #: The record's source id, for error reports.
    source_id: str
    #: Whether PocketBase holds the record already: counted ``updated`` if so, else ``created``.
    exists: bool = False


@dataclass(frozen=True)
class _AnyUpsert(Upsert):
    """An upsert sent as such (``PUT``), whether the record exists or not."""


@dataclass(frozen=True)
class Delete:
    """Delete the record ``id`` of ``collection``; a record that is already gone counts as deleted."""

    collection: str
    id: str
    scope: str
    source_id: str | None = None


Operation = Upsert | Delete


def filter_string(value: str) -> str:
    """``value`` as a double-quoted PocketBase filter literal (``race = {filter_string(race_id)}``).

    PocketBase filters cannot express a backslash inside a string literal, so such values are refused.
    """
    if "\\" in value:
        raise ValueError(f"a PocketBase filter cannot match a value containing a backslash: {value!r}")
    return '"' + value.replace('"', '\\"') + '"'


@dataclass(frozen=True)
class _Refusal:
    """One request PocketBase refused inside a batch (the whole batch was rolled back)."""

    index: int
    status: int
    message: str
    data: dict[str, Any]


class _BatchRefused(Exception):
    def __init__(self, refusal: _Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


class _Unsendable(Exception):
    """A request that cannot be encoded as JSON, or a batch body that PocketBase could not read."""


class _BatchTooLarge(Exception):
    """The server's ``maxRequests`` is lower than the batch size, or the body was too large (413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} requests per batch")
        self.limit = limit


class PocketBaseSink:
    """Writes records to one PocketBase as a superuser (password or token), in batches.

    With ``email`` and ``password`` the sink logs in (and logs in again when its token stops working); with only
    ``token`` it uses that token, checked by an auth refresh. When both are given, the password wins: it survives
    token expiry. ``dry_run=True`` checks the credentials and reads as usual, but writes nothing: :meth:`write`
    counts every operation as if it had succeeded.
    """

    def __init__(
        self,
        url: str,
        *,
        email: str | None = None,
        password: str | None = None,
        token: str | None = None,
        timeout: float = 30.0,
        batch_size: int = DEFAULT_BATCH_SIZE,
        dry_run: bool = False,
    ) -> None:
        if not ((email and password) or token):
            raise ConfigError(
                f"no PocketBase superuser credentials: set {ENV_PREFIX}PB_EMAIL and {ENV_PREFIX}PB_PASSWORD, "
                f"or {ENV_PREFIX}PB_TOKEN"
            )
        if batch_size < 1:
            raise ConfigError("the PocketBase batch size must be at least 1")
        self.url = url.rstrip("/")
        self.email = email
        self._password = password
        self._token = token
        self.batch_size = batch_size
        self.dry_run = dry_run
        #: HTTP requests made to PocketBase (logins, reads and batches, retries included).
        self.requests_sent = 0
        #: Upserts and deletes sent in batch requests (an operation sent again after a rejected batch counts again).
        self.writes_sent = 0
        self._authenticated = False
        # A reading thread may share the sink with the writing one: logins and counters are guarded.
        self._auth_lock = threading.RLock()
        self._count_lock = threading.Lock()
        #: The SDK client; its ``auth_store`` holds the current token.
        # A total deadline per request (three times the per-operation timeout): a trickling server cannot hang a run.
        deadline = deadline_transport(httpx.Limits(), total=timeout * TOTAL_DEADLINE_FACTOR)
        self.client = PocketBase(self.url, auto_snake_case=False, timeout=timeout, transport=deadline)
        self.client.before_send = self._count_request

    @classmethod
    def from_settings(cls, settings: Settings, *, dry_run: bool = False) -> PocketBaseSink:
        return cls(
            settings.pb_base,
            email=settings.pb_email,
            password=settings.pb_password,
            token=settings.pb_token,
            timeout=settings.pb_timeout,
            dry_run=dry_run,
        )

    # -- authentication ------------------------------------------------------------------------------------------

    def authenticate(self) -> None:
        """Log in as the superuser, or check the given token; raise AuthError or SinkUnreachable."""
        with self._auth_lock:
            self._authenticated = False
            self._login()
            self._authenticated = True

    def _login(self) -> None:
        if self.email and self._password:
            refused = (
                f"PocketBase at {self.url} refused the superuser credentials for {self.email} "
                f"(check {ENV_PREFIX}PB_EMAIL/{ENV_PREFIX}PB_PASSWORD)"
            )
            email, password = self.email, self._password
            self.client.auth_store.clear()
            self._auth_call(lambda: self.client.collection(SUPERUSERS).auth_with_password(email, password), refused)
        else:
            refused = f"PocketBase at {self.url} refused the superuser token (check {ENV_PREFIX}PB_TOKEN)"
            self.client.auth_store.save(self._token or "", None)
            self._auth_call(lambda: self.client.collection(SUPERUSERS).auth_refresh(), refused)
        if not self.client.auth_store.token:
            raise AuthError(f"PocketBase at {self.url} returned no token for the superuser")

    def _auth_call(self, call: Callable[[], object], refused: str) -> None:
        try:
            self._with_retries(call)
        except ClientResponseError as exc:
            if exc.status in (400, 401, 403):
                raise AuthError(refused) from exc
            raise AuthError(
                self._redact(f"{refused}: it answered {exc.status} {_message(exc.data)} (is this PocketBase 0.23+?)")
            ) from exc

    def _ensure_authenticated(self) -> None:
        with self._auth_lock:
            if not self._authenticated:
                self.authenticate()

    # -- raw requests ------------------------------------------------------------------------------------------------

    def _count_request(self, path: str, config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        with self._count_lock:
            self.requests_sent += 1
        return path, config

    def _with_retries(self, call: Callable[[], Any]) -> Any:
        """``call()`` with 5xx/429 retried; no answer or lasting 5xx become SinkUnreachable."""
        try:
            for attempt in Retrying(
                stop=stop_after_attempt(ATTEMPTS),
                wait=wait_exponential(multiplier=0.2, max=2.0),
                retry=retry_if_exception(_server_trouble),
                reraise=True,
            ):
                with attempt:
                    return call()
        except ClientResponseError as exc:
            if exc.status == 0 and isinstance(exc.original_error, ValueError | TypeError):
                # Raised while encoding the request (NaN, a lone surrogate, ...): nothing was sent.
                raise _Unsendable(f"cannot be sent as JSON: {exc.original_error}") from exc
            if exc.status == 0:
                raise SinkUnreachable(
                    self._redact(f"PocketBase at {self.url} did not answer: {_network_reason(exc)}")
                ) from exc
            if _server_trouble(exc):
                raise SinkUnreachable(
                    self._redact(
                        f"PocketBase at {self.url} failed with {_status(exc)} after {ATTEMPTS} attempts: "
                        f"{_message(exc.data)}"
                    )
                ) from exc
            raise
        raise AssertionError("unreachable")  # pragma: no cover - Retrying always returns or raises

    def _send_authenticated(self, path: str, config: dict[str, Any]) -> Any:
        """One request as the superuser; when refused with 401/403, log in again once and repeat it."""
        self._ensure_authenticated()
        try:
            return self._with_retries(lambda: self.client.send(path, _fresh(config)))
        except ClientResponseError as exc:
            if not _auth_refused(exc):
                raise
            logger.info("PocketBase refused the token for %s; authenticating again", path)
        self.authenticate()
        try:
            return self._with_retries(lambda: self.client.send(path, _fresh(config)))
        except ClientResponseError as exc:
            if not _auth_refused(exc):
                raise
            if path == "/api/batch" and _message(exc.data) == "Batch requests are not allowed.":
                raise SinkRejected(
                    f"PocketBase at {self.url} does not allow batch requests: apply fpvsync's migrations "
                    "(fpvsync pb serve does) or enable them in Settings > Application",
                    exc.status,
                    exc.data,
                ) from exc
            raise AuthError(
                self._redact(
                    f"PocketBase at {self.url} refused {path} to the superuser even after logging in again: "
                    f"{_message(exc.data)}"
                )
            ) from exc

    def send(self, path: str, config: dict[str, Any]) -> Any:
        """An authenticated request (``config`` as for the SDK's ``send``: method, params, body, headers).

        Returns the decoded JSON. Raises SinkUnreachable, AuthError, or SinkRejected (with ``status`` and
        ``data``) for any other refusal, e.g. 404 for a missing record.
        """
        try:
            return self._send_authenticated(path, config)
        except _Unsendable as exc:
            raise SinkRejected(f"PocketBase refused {config.get('method', 'GET')} {path}: {exc}") from exc
        except ClientResponseError as exc:
            raise SinkRejected(
                self._redact(
                    f"PocketBase refused {config.get('method', 'GET')} {path}: "
                    f"{_describe(_data(exc), fallback=_message(exc.data))} ({exc.status})"
                ),
                exc.status,
                exc.data,
            ) from exc

    # -- reading -----------------------------------------------------------------------------------------------------

    def list_records(
        self, collection: str, filter: str | None = None, fields: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every record of ``collection`` matching ``filter``, in id order, 1000 per request.

        Pages by id (``id > last``), which stays correct while records are added or deleted and costs no offset
        scan. ``fields`` (comma-separated) always gets ``id``.

        PocketBase reads an expired token as a guest's, without an error, and leaves hidden fields (``syncHash``)
        out of a guest's answer: when a requested field is missing, the sink logs in again and asks once more.
        """
        params: dict[str, Any] = {"perPage": PAGE_SIZE, "skipTotal": 1, "sort": "id"}
        names: list[str] = []
        if fields is not None:
            names = [name.strip() for name in fields.split(",") if name.strip()]
            params["fields"] = ",".join(names if "id" in names else ["id", *names])
        asked_again = False
        last: str | None = None
        while True:
            clauses = [f"({filter})"] if filter else []
            if last is not None:
                clauses.append(f"id > {filter_string(last)}")
            if clauses:
                params["filter"] = " && ".join(clauses)
            page = self.send(f"/api/collections/{collection}/records", {"method": "GET", "params": dict(params)})
            items: list[dict[str, Any]] = page["items"]
            if items and not asked_again and any(name not in items[0] for name in names):
                asked_again = True
                logger.info("PocketBase left fields of %s out (an expired token?); authenticating again", collection)
                self.authenticate()
                continue
            yield from items
            if not items or len(items) < int(page.get("perPage") or PAGE_SIZE):
                return
            last = str(items[-1]["id"])

    def existing_hashes(
        self, collection: str, filter: str | None = None, also: Sequence[str] = (), edited_after: str = ""
    ) -> dict[str, str]:
        """``id -> syncHash`` of every record of ``collection`` matching ``filter``; with ``also``, the values of
        those fields follow the hash (see :func:`stamp`), so that a change PocketBase made by itself (a relation
        emptied when its target was deleted) shows. With ``edited_after`` (a PocketBase time), a record PocketBase
        updated later than that is returned as :data:`EDITED` (its stamp counts as unknown)."""
        names = ",".join(["id", "syncHash", *also, *(["updated"] if edited_after else [])])
        return {
            str(item["id"]): _stamp_of(item, also, edited_after)
            for item in self.list_records(collection, filter, fields=names)
        }

    def existing_grouped(
        self,
        collection: str,
        filter: str | None,
        by: str,
        also: Sequence[str] = (),
        edited_after: Mapping[str, str] | None = None,
    ) -> dict[str, dict[str, str]]:
        """``value of by -> {id -> syncHash}``: one listing for many scopes (say, every race's laps of an event).
        ``edited_after`` maps a group to its PocketBase time, as for :meth:`existing_hashes`."""
        grouped: dict[str, dict[str, str]] = {}
        names = ",".join(dict.fromkeys(["id", "syncHash", by, *also, *(["updated"] if edited_after else [])]))
        for item in self.list_records(collection, filter, fields=names):
            key = str(item.get(by) or "")
            group = grouped.setdefault(key, {})
            group[str(item["id"])] = _stamp_of(item, also, (edited_after or {}).get(key, ""))
        return grouped

    # -- writing -----------------------------------------------------------------------------------------------------

    def write(self, operations: Sequence[Operation], summary: SyncSummary, progress: Progress | None = None) -> None:
        """Apply ``operations`` in order, ``batch_size`` per transaction, counting each into ``summary``.

        ``progress(n)`` is called after each chunk with the number of operations it settled (advance by ``n``).
        A record PocketBase refuses is counted ``failed`` with an error; its neighbours are still written. A
        delete of a record that is already gone counts as deleted. SinkUnreachable and AuthError stop the write:
        what PocketBase committed before is counted (including parts of a chunk that was being narrowed down), the
        batch in flight is not. A refusal of a whole batch that names no record (a server set up without
        fpvsync's migrations, say) raises SinkRejected.
        """
        ops = list(operations)
        if not ops:
            return
        self._ensure_authenticated()
        done = 0
        while done < len(ops):
            chunk = ops[done : done + self.batch_size]
            if self.dry_run:
                for op in chunk:
                    _count_success(op, summary)
            else:
                self._apply(chunk, summary)
            done += len(chunk)
            if progress is not None:
                progress(len(chunk))

    def _apply(self, ops: list[Operation], summary: SyncSummary) -> None:
        """Write ``ops`` in one batch; when PocketBase refuses one, settle it and write the others."""
        if len(ops) > self.batch_size:
            for start in range(0, len(ops), self.batch_size):
                self._apply(ops[start : start + self.batch_size], summary)
            return
        try:
            self._send_batch(ops)
        except _Unsendable as exc:
            if len(ops) == 1:
                op = ops[0]
                summary.add(op.collection, "failed")
                summary.error(op.scope, self._redact(str(exc)), op.collection, op.source_id)
                return
            for half in (ops[: len(ops) // 2], ops[len(ops) // 2 :]):
                self._apply(half, summary)
            return
        except _BatchTooLarge as exc:
            logger.info("PocketBase at %s refused a batch of %d; sending %d per batch", self.url, len(ops), exc.limit)
            self.batch_size = exc.limit
            self._apply(ops, summary)
            return
        except _BatchRefused as exc:
            # The batch ran in order and stopped at the refused request: the ones before it are fine.
            index = exc.refusal.index
            if _stale(ops[index], exc.refusal):
                self._apply([*ops[:index], *(_as_upsert(op) for op in ops[index:])], summary)
                return
            self._settle_refused(ops[index], exc.refusal, summary)
            if index:
                self._apply(ops[:index], summary)
            rest = ops[index + 1 :]
            # Halving the rest bounds the cost when many records are bad (say, a whole chunk of them).
            halves = [rest[: len(rest) // 2], rest[len(rest) // 2 :]] if len(rest) > 1 else [rest]
            for half in halves:
                if half:
                    self._apply(half, summary)
            return
        for op in ops:
            _count_success(op, summary)

    def _send_batch(self, ops: list[Operation]) -> list[Any]:
        requests = [_batch_request(op) for op in ops]
        with self._count_lock:
            self.writes_sent += len(ops)
        try:
            answer = self._send_authenticated("/api/batch", {"method": "POST", "body": {"requests": requests}})
        except ClientResponseError as exc:
            refusal = _refusal(exc)
            if refusal is not None and 0 <= refusal.index < len(ops):
                raise _BatchRefused(refusal) from exc
            limit = _batch_limit(exc)
            if limit is not None and 0 < limit < len(ops):
                raise _BatchTooLarge(limit) from exc
            if exc.status == 413 and len(ops) > 1:
                raise _BatchTooLarge(len(ops) // 2) from exc
            if exc.status == 400 and refusal is None:
                # The body as a whole could not be read (say, a number beyond a float64): find the record.
                raise _Unsendable(f"PocketBase could not read it: {_message(exc.data) or 'no details'}") from exc
            raise SinkRejected(
                self._redact(
                    f"PocketBase at {self.url} refused a batch of {len(ops)} requests: "
                    f"{_describe(_data(exc), fallback=_message(exc.data))} ({exc.status})"
                ),
                exc.status,
                exc.data,
            ) from exc
        return list(answer) if isinstance(answer, list) else []

    @staticmethod
    def _settle_refused(op: Operation, refusal: _Refusal, summary: SyncSummary) -> None:
        gone = refusal.status == 404 and refusal.message != "Missing collection context."
        if isinstance(op, Delete) and gone:
            summary.add(op.collection, "deleted")
            return
        body = op.body if isinstance(op, Upsert) else {}
        summary.add(op.collection, "failed")
        summary.error(op.scope, _describe(refusal.data, body, refusal.message), op.collection, op.source_id)

    # -- lifecycle ---------------------------------------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        for secret in (self._password, self._token, self.client.auth_store.token):
            if secret:
                text = text.replace(secret, "***")
        return text

    def close(self) -> None:
        self.client.http_client.close()

    def __enter__(self) -> PocketBaseSink:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        who = self.email or "token"
        return f"PocketBaseSink({self.url!r}, {who}, batch_size={self.batch_size}, dry_run={self.dry_run})"


# -- helpers -----------------------------------------------------------------------------------------------------------


def stamp(sync_hash: str, values: Sequence[object]) -> str:
    """A record's ``syncHash`` followed by the values of some of its fields, as :meth:`PocketBaseSink.existing_hashes`
    returns it with ``also`` (lists joined with commas, empty values as ``""``)."""
    parts = [sync_hash]
    for value in values:
        parts.append(",".join(str(v) for v in value) if isinstance(value, list) else str(value or ""))
    return "|".join(parts)


#: The stamp of a record PocketBase changed after fpvsync last established its scope: it matches no record.
EDITED: Final = ""


def _stamp_of(item: dict[str, Any], also: Sequence[str], edited_after: str = "") -> str:
    if edited_after and str(item.get("updated") or "") > edited_after:
        return EDITED
    sync_hash = str(item.get("syncHash") or "")
    return stamp(sync_hash, [item.get(name) for name in also]) if also else sync_hash


def _fresh(config: dict[str, Any]) -> dict[str, Any]:
    """A copy the SDK may mutate: it stores the Authorization header in ``config["headers"]``, and would then keep
    sending the old token on a retry after logging in again."""
    copy = dict(config)
    copy["headers"] = {k: v for k, v in (config.get("headers") or {}).items() if k.lower() != "authorization"}
    return copy


def _batch_request(op: Operation) -> dict[str, Any]:
    records = f"/api/collections/{op.collection}/records"
    if isinstance(op, Delete):
        return {"method": "DELETE", "url": f"{records}/{op.id}"}
    if op.exists and not isinstance(op, _AnyUpsert):
        return {"method": "PATCH", "url": f"{records}/{op.id}?fields=id", "body": op.body}
    return {
        "method": "PUT" if isinstance(op, _AnyUpsert) else "POST",
        "url": f"{records}?fields=id",
        "body": {**op.body, "id": op.id},
    }


def _as_upsert(op: Operation) -> Operation:
    if isinstance(op, Upsert) and not isinstance(op, _AnyUpsert):
        return _AnyUpsert(op.collection, op.id, op.body, op.scope, op.source_id, op.exists)
    return op


def _stale(op: Operation, refusal: _Refusal) -> bool:
    """Whether PocketBase refused a create only because the record exists, or an update only because it is gone."""
    if not isinstance(op, Upsert) or isinstance(op, _AnyUpsert):
        return False
    if op.exists:
        return refusal.status == 404 and refusal.message != "Missing collection context."
    return any(
        isinstance(error, dict) and error.get("code") == "validation_not_unique" for error in refusal.data.values()
    )


def _count_success(op: Operation, summary: SyncSummary) -> None:
    if isinstance(op, Delete):
        summary.add(op.collection, "deleted")
    else:
        summary.add(op.collection, "updated" if op.exists else "created")


def _batch_errors(exc: ClientResponseError) -> dict[str, Any] | None:
    """``data.requests`` of a refused batch: ``{index: failure}``, or a validation error of the whole list."""
    data = _data(exc)
    requests = data.get("requests") if isinstance(data, dict) else None
    return requests if isinstance(requests, dict) else None


def _refusal(exc: ClientResponseError) -> _Refusal | None:
    """The request a failed batch names (``data.requests.{index}.response``), if it names one."""
    requests = _batch_errors(exc)
    if requests is None:
        return None
    for key, failure in requests.items():
        if key.isdigit() and isinstance(failure, dict):
            response = failure.get("response")
            response = response if isinstance(response, dict) else {}
            data = response.get("data")
            return _Refusal(
                index=int(key),
                status=int(response.get("status") or exc.status),
                message=str(response.get("message") or failure.get("message") or ""),
                data=data if isinstance(data, dict) else {},
            )
    return None


def _batch_limit(exc: ClientResponseError) -> int | None:
    """``maxRequests`` when a batch was refused for holding too many requests."""
    requests = _batch_errors(exc)
    if requests is not None and requests.get("code") == "validation_length_too_long":
        limit = (requests.get("params") or {}).get("max")
        return int(limit) if isinstance(limit, int) else None
    return None


def _status(exc: ClientResponseError) -> int:
    """The status that matters: a batch answers 400 for the whole, the refused request has its own."""
    refusal = _refusal(exc)
    return refusal.status if refusal is not None else exc.status


def _server_trouble(exc: BaseException) -> bool:
    return isinstance(exc, ClientResponseError) and (_status(exc) >= 500 or _status(exc) == 429)


def _auth_refused(exc: ClientResponseError) -> bool:
    return exc.status in (401, 403) or _status(exc) in (401, 403)


def _network_reason(exc: ClientResponseError) -> str:
    original = exc.original_error
    if original is None:
        return "no answer"
    return str(original) or type(original).__name__


def _data(exc: ClientResponseError) -> object:
    return exc.data.get("data") if isinstance(exc.data, dict) else None


def _message(data: object) -> str:
    if isinstance(data, dict):
        return str(data.get("message") or "")
    return ""


def _field_errors(data: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    for name, detail in data.items():
        if not isinstance(detail, dict):
            continue
        if "message" in detail and isinstance(detail["message"], str):
            yield prefix + str(name), detail
        else:
            yield from _field_errors(detail, f"{prefix}{name}.")


def _describe(fields: object, body: dict[str, Any] | None = None, fallback: str = "") -> str:
    """PocketBase's field errors (an answer's ``data``) as ``field: message; field: message``."""
    parts: list[str] = []
    if isinstance(fields, dict):
        for name, detail in _field_errors(fields):
            text = f"{name}: {detail['message'].rstrip('.')}"
            value = (body or {}).get(name)
            if detail.get("code") == "validation_missing_rel_records" and value:
                text += f" ({value})"
            parts.append(text)
    if parts:
        return "; ".join(parts)
    return fallback or "refused without details"
