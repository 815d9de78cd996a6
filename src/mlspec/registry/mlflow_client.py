"""The one module that imports MLflow: read the registry, run actions, retry, wait.

Import it lazily (`mlspec.registry.reconcile.open_registry` does): ``mlspec validate`` and
``mlspec compile`` never load MLflow.

Retries. MLflow's own HTTP retries are turned down to none (unless the user set
``MLFLOW_HTTP_REQUEST_MAX_RETRIES``): with them, a POST that reached the server but
lost its answer is sent again blindly, and ``create_model_version`` would register the
version twice. Here, transient failures (connection errors, HTTP 429/5xx, a locked sqlite
file) are retried with exponential backoff and jitter, a bounded number of times; before
a create is retried, the registry is searched for what the lost attempt may have created.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from mlspec.diagnostics import safe_text
from mlspec.registry.apply import RegistryRefusedError, RegistryUnavailableError
from mlspec.registry.desired import PLATFORM_TAG, SPEC_VERSION_TAG, scrub
from mlspec.registry.plan import (
    FAILED,
    Action,
    ActualModel,
    ActualVersion,
    CreateModel,
    CreateVersion,
    DeleteAlias,
    DeleteTag,
    SetAlias,
    SetDescription,
    SetTag,
)

T = TypeVar("T")

READY = "READY"
_TRANSIENT_HTTP = frozenset({429, 500, 502, 503, 504})
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")  # spec names are RFC 1123 labels
_CHUNK = 50  # names per `name IN (...)` search
_MODELS_PAGE = 1000  # MLflow's limit for search_registered_models
_VERSIONS_PAGE = 10_000


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5  # calls in all, the first one included
    first_delay: float = 0.25  # seconds; doubled after each failure, with full jitter
    max_delay: float = 4.0
    ready_timeout: float = 300.0  # how long a new version may stay PENDING_REGISTRATION
    ready_poll: float = 0.5

    def delays(self) -> Iterator[float]:
        for attempt in range(self.attempts - 1):
            ceiling = min(self.max_delay, self.first_delay * 2**attempt)
            yield random.uniform(ceiling / 2, ceiling)


class MlflowRegistry:
    """A registry at one tracking URI (``sqlite:///file.db``, ``http(s)://host``...)."""

    def __init__(self, uri: str, retry: RetryPolicy | None = None) -> None:
        _configure_mlflow()
        self.uri = uri
        self.retry = retry or RetryPolicy()
        try:
            self._client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        except Exception as exc:  # a bad URI or an unreadable database: never a bug of ours
            raise RegistryUnavailableError(_message(exc)) from exc

    # --- reading ----------------------------------------------------------------------------

    def read(self, names: Sequence[str], platform: str) -> dict[str, ActualModel]:
        """The registered models called ``names``; with versions for those ``platform`` owns."""
        try:
            models = self._search_models(names)
            owned = sorted(name for name, model in models.items() if model.owned_by(platform))
            versions = self._search_versions(owned)
        except MlflowException as exc:
            raise RegistryUnavailableError(_message(exc)) from exc
        return {
            name: replace(model, versions=tuple(versions.get(name, ())))
            for name, model in models.items()
        }

    def _search_models(self, names: Sequence[str]) -> dict[str, ActualModel]:
        found: dict[str, ActualModel] = {}
        for chunk in _chunks(names):
            search = functools.partial(
                self._client.search_registered_models,
                filter_string=_name_filter(chunk),
                max_results=_MODELS_PAGE,
            )
            found.update((str(item.name), _actual_model(item)) for item in self._pages(search))
        return found

    def _search_versions(self, names: Sequence[str]) -> dict[str, list[ActualVersion]]:
        found: dict[str, list[ActualVersion]] = {}
        for chunk in _chunks(names):
            search = functools.partial(
                self._client.search_model_versions,
                filter_string=_name_filter(chunk),
                max_results=_VERSIONS_PAGE,
            )
            for item in self._pages(search):
                found.setdefault(str(item.name), []).append(_actual_version(item))
        return found

    def _pages(self, search: Callable[..., Any]) -> Iterator[Any]:
        """Every item of a paged MLflow search, each page read with retries."""
        token: str | None = None
        while True:
            page = self._retrying(functools.partial(search, page_token=token))
            yield from page
            token = page.token
            if not token:
                return

    # --- acting -----------------------------------------------------------------------------

    def execute(self, action: Action, versions: Mapping[int, int]) -> int | None:
        """Run one action (see `mlspec.registry.apply.Executor`)."""
        try:
            return self._dispatch(action, versions)
        except MlflowException as exc:
            raise RegistryRefusedError(_message(exc)) from exc

    def _dispatch(self, action: Action, versions: Mapping[int, int]) -> int | None:
        client = self._client
        if isinstance(action, CreateModel):
            self._create_model(action)
        elif isinstance(action, CreateVersion):
            return self._create_version(action)
        elif isinstance(action, SetDescription):
            self._retrying(
                lambda: client.update_registered_model(action.model, description=action.new)
            )
        elif isinstance(action, SetTag):
            self._retrying(lambda: self._set_tag(action))
        elif isinstance(action, DeleteTag):
            self._tolerating_absence(lambda: self._delete_tag(action))
        elif isinstance(action, SetAlias):
            number = _alias_target(action, versions)
            self._retrying(
                lambda: client.set_registered_model_alias(action.model, action.alias, number)
            )
        elif isinstance(action, DeleteAlias):
            self._tolerating_absence(
                lambda: client.delete_registered_model_alias(action.model, action.alias)
            )
        return None

    def _set_tag(self, action: SetTag) -> None:
        if action.mlflow_version is None:
            self._client.set_registered_model_tag(action.model, action.key, action.new)
        else:
            version = str(action.mlflow_version)
            self._client.set_model_version_tag(action.model, version, action.key, action.new)

    def _delete_tag(self, action: DeleteTag) -> None:
        if action.mlflow_version is None:
            self._client.delete_registered_model_tag(action.model, action.key)
        else:
            version = str(action.mlflow_version)
            self._client.delete_model_version_tag(action.model, version, action.key)

    def _create_model(self, action: CreateModel) -> None:
        def attempt() -> None:
            try:
                self._client.create_registered_model(
                    action.model, tags=dict(action.tags), description=action.description
                )
            except MlflowException as exc:
                if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
                self._check_still_ours(action)  # a lost answer, or a race with another apply

        self._retrying(attempt)

    def _check_still_ours(self, action: CreateModel) -> None:
        found = _actual_model(self._client.get_registered_model(action.model))
        if not found.owned_by(action.tags[PLATFORM_TAG]):
            raise RegistryRefusedError(
                f"registered model {action.model} was created outside mlspec since the plan"
            )

    def _create_version(self, action: CreateVersion) -> int:
        """Create a version; a retry first looks for the one a lost attempt may have made."""
        retried = False

        def attempt() -> tuple[int, str]:
            nonlocal retried
            existing = self._find_version(action) if retried else None
            retried = True
            if existing is not None:
                return existing.number, existing.status
            created = self._client.create_model_version(
                action.model, action.source, tags=dict(action.tags), await_creation_for=0
            )
            return int(created.version), str(created.status)

        number, status = self._retrying(attempt)
        if status != READY:
            self._wait_ready(action.model, number)
        return number

    def _find_version(self, action: CreateVersion) -> ActualVersion | None:
        query = (
            f"name = '{_checked(action.model)}' and "
            f"tags.`{SPEC_VERSION_TAG}` = '{action.spec_version}'"
        )
        found = [_actual_version(v) for v in self._client.search_model_versions(query)]
        same = [v for v in found if v.source == action.source and v.status != FAILED]
        return min(same, key=lambda v: v.number) if same else None

    def _wait_ready(self, model: str, number: int) -> None:
        deadline = time.monotonic() + self.retry.ready_timeout
        while True:
            version = self._retrying(lambda: self._client.get_model_version(model, str(number)))
            status = str(version.status)
            if status == READY:
                return
            if status == FAILED:
                why = version.status_message or "no reason given"
                raise RegistryRefusedError(f"MLflow version {number} failed to register: {why}")
            if time.monotonic() > deadline:
                raise RegistryUnavailableError(
                    f"MLflow version {number} of {model} is still {status} after "
                    f"{self.retry.ready_timeout:g}s"
                )
            time.sleep(self.retry.ready_poll)

    # --- retries ----------------------------------------------------------------------------

    def _retrying(self, call: Callable[[], T]) -> T:
        delays = self.retry.delays()
        while True:
            try:
                return call()
            except MlflowException as exc:
                if not _transient(exc):
                    raise
                delay = next(delays, None)
                if delay is None:
                    raise RegistryUnavailableError(_message(exc)) from exc
                time.sleep(delay)

    def _tolerating_absence(self, call: Callable[[], None]) -> None:
        """Deletes are done when the thing is gone (an earlier attempt may have got there)."""
        try:
            self._retrying(call)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise


def _configure_mlflow() -> None:
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _transient(exc: MlflowException) -> bool:
    return int(exc.get_http_status_code()) in _TRANSIENT_HTTP


def _message(exc: BaseException) -> str:
    """MLflow's message, first line only, credentials masked, control characters escaped."""
    text = str(exc.message if isinstance(exc, MlflowException) else exc).strip()
    return safe_text(scrub(text.splitlines()[0]), 500) if text else type(exc).__name__


def _alias_target(action: SetAlias, versions: Mapping[int, int]) -> str:
    number = action.mlflow_version or versions.get(action.spec_version)
    if number is None:
        raise RegistryRefusedError(f"version {action.spec_version} is not registered")
    return str(number)


def _actual_model(item: Any) -> ActualModel:
    return ActualModel(
        name=str(item.name),
        description=str(item.description or ""),
        tags={str(k): str(v) for k, v in (item.tags or {}).items()},
        aliases={str(k): int(v) for k, v in (item.aliases or {}).items()},
    )


def _actual_version(item: Any) -> ActualVersion:
    return ActualVersion(
        number=int(item.version),
        source=str(item.source),
        status=str(item.status),
        tags={str(k): str(v) for k, v in (item.tags or {}).items()},
    )


def _chunks(names: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(names), _CHUNK):
        yield [_checked(name) for name in names[start : start + _CHUNK]]


def _name_filter(names: Sequence[str]) -> str:
    return "name IN (" + ", ".join(f"'{name}'" for name in names) + ")"


def _checked(name: str) -> str:
    """Names go into filter strings: only RFC 1123 labels (the spec guarantees it)."""
    if not _NAME.match(name):
        raise ValueError(f"not a model name mlspec writes: {name!r}")
    return name
