"""The remote engine: the same policies and data, evaluated by an OPA server.

``mlspec validate --opa-url http://127.0.0.1:8181`` (or ``mlspec policy test --opa-url``)
uses opa-python-client to

1. upload every module through the Policy API (``PUT /v1/policies/mlspec-<digest>/<n>``),
   where ``<digest>`` is that of the modules, so two different policy sets never share ids;
2. put each top-level key of the ``--data`` document at ``/v1/data/<key>``;
3. query each rule (``POST /v1/data/<package path>/<rule>``) with the input document and
   ``strict-builtin-errors``, so a builtin error is an error and not an undefined deny;
4. delete what it uploaded, whatever happened.

Use a server of its own (a CI service container, a sidecar): the uploads replace data
other clients may have put at the same keys. A bearer token is read from the
``MLSPEC_OPA_TOKEN`` environment variable, never from the command line. Each request
has the ``--policy-timeout`` budget; an unreachable server, an HTTP error or an
evaluation error is exit 2.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from mlspec.diagnostics import Diagnostic, Location, MlspecError, safe_text
from mlspec.policy.engine import Deferred, Outcome
from mlspec.policy.modules import PolicyModule, PolicySet, RuleRef

TOKEN_VARIABLE = "MLSPEC_OPA_TOKEN"


class RemoteEngine:
    """Evaluates on the OPA server at ``url`` (http or https, default port 8181)."""

    name = "remote (OPA)"

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            message = (
                f"--opa-url {safe_text(url)} is not an http(s) URL such as http://127.0.0.1:8181"
            )
            raise MlspecError(Diagnostic("MLS717", message))
        self.url = url
        self.host = parts.hostname
        self.port = parts.port or 8181
        self.ssl = parts.scheme == "https"
        self.timeout = timeout

    def start(
        self,
        policies: PolicySet,
        documents: Mapping[str, Callable[[], Any]],
        rules: Sequence[RuleRef],
        what: str = "evaluating policies",
    ) -> Deferred:
        """The evaluation, done when its result is asked for."""

        def work() -> dict[str, list[Outcome]]:
            built = {key: build() for key, build in documents.items()}
            return self.evaluate(policies, built, rules, what)

        return Deferred(work)

    def evaluate(
        self,
        policies: PolicySet,
        documents: Mapping[str, Any],
        rules: Sequence[RuleRef],
        what: str = "evaluating policies",
    ) -> dict[str, list[Outcome]]:
        from opa_client import OpaClient  # type: ignore[import-untyped]

        token = os.environ.get(TOKEN_VARIABLE) or None
        client = OpaClient(
            host=self.host, port=self.port, ssl=self.ssl, token=token, timeout=self.timeout
        )
        ids = _policy_ids(policies)
        try:
            self._upload(client, policies, ids)
            return {
                key: [self._query(client, rule, document) for rule in rules]
                for key, document in documents.items()
            }
        except MlspecError:
            raise
        except Exception as exc:  # requests and opa_client errors: no shared base class
            raise MlspecError(self._unreachable(what, exc)) from exc
        finally:
            self._clean(client, ids, policies.data)
            client.close_connection()

    def _upload(self, client: Any, policies: PolicySet, ids: list[str]) -> None:
        for module, policy_id in zip(policies.modules, ids, strict=True):
            try:
                client.update_policy_from_string(module.text, policy_id, rego_compat=False)
            except Exception as exc:  # opa_client's RegoParseError carries OPA's errors
                located = _compile_error(module, getattr(exc, "errors", None))
                if located is None:
                    raise
                raise MlspecError(located) from exc
        for key, value in sorted(policies.data.items()):
            if not isinstance(value, dict):
                message = f"with --opa-url, data.{key} must be an object (OPA's Data API)"
                raise MlspecError(Diagnostic("MLS716", message))
            client.update_or_create_data(value, key)

    def _query(self, client: Any, rule: RuleRef, document: Any) -> Outcome:
        import requests

        try:
            answer = client.query_rule(
                input_data=document if document is not None else {},
                package_path=rule.package,
                rule_name=rule.name,
                query_params={"strict-builtin-errors": "true"},
            )
        except requests.HTTPError as exc:
            return Outcome(rule, False, error=_opa_error(exc))
        if "result" not in answer:
            return Outcome(rule, False)
        return Outcome(rule, True, answer["result"])

    @staticmethod
    def _clean(client: Any, ids: list[str], data: Mapping[str, Any]) -> None:
        for policy_id in ids:
            try:
                client.delete_policy(policy_id)
            except Exception:
                continue
        for key in sorted(data):
            try:
                client.delete_data(key)
            except Exception:
                continue

    def _unreachable(self, what: str, exc: Exception) -> Diagnostic:
        detail = getattr(exc, "message", None) or exc
        message = f"OPA at {self.url} failed while {what}: {safe_text(detail, 300)}"
        return Diagnostic("MLS717", message, hint="is the server running and reachable?")


def _policy_ids(policies: PolicySet) -> list[str]:
    digest = hashlib.sha256()
    for module in policies.modules:
        digest.update(module.display.encode() + b"\0" + module.text.encode() + b"\0")
    prefix = "mlspec-" + digest.hexdigest()[:16]
    return [
        f"{prefix}/{index:03d}-{PurePosixPath(module.display).name}"
        for index, module in enumerate(policies.modules)
    ]


def _compile_error(module: PolicyModule, errors: Any) -> Diagnostic | None:
    """OPA's first located error about ``module``, at its line in the module."""
    for error in errors if isinstance(errors, list) else []:
        where = error.get("location") if isinstance(error, dict) else None
        if isinstance(where, dict) and isinstance(where.get("row"), int):
            location = Location(module.display, where["row"], int(where.get("col") or 1))
            message = f"policy does not compile on OPA: {safe_text(error.get('message'), 300)}"
            return Diagnostic("MLS710", message, location)
    return None


def _opa_error(exc: Any) -> str:
    """OPA's own error message from an HTTP error response, when it sent one."""
    try:
        body = exc.response.json()
    except Exception:
        return str(exc)
    errors = body.get("errors") or []
    details = [e.get("message", "") for e in errors if isinstance(e, dict)]
    return "; ".join([str(body.get("message", exc)), *details])
