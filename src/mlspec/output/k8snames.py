"""Metadata rules the API server applies that no OpenAPI schema carries.

The strict ``ObjectMeta`` schema types ``metadata``, but not the syntax of what is in it:
`metadata_problems` checks object names (an RFC 1123 subdomain by default, stricter or
looser per kind: `_NAME_RULES`, including KServe's webhook), namespaces, label keys and
values, annotation keys (qualified names) and the total size of the annotations.

The label and annotation-key verdicts are memoised: the same few keys and values come
back on every object.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from typing import Any

from mlspec.output.schemamessages import SchemaProblem, escape, show

__all__ = ["metadata_problems"]


_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE_MAX = 63
_ANNOTATIONS_MAX_BYTES = 256 * 1024

_SUBDOMAIN = "must be a lowercase RFC 1123 subdomain (a-z, 0-9, '-', '.')"
_LABEL = "must be a lowercase RFC 1123 label (a-z, 0-9, '-')"


def _name_rule(pattern: re.Pattern[str], limit: int, why: str) -> Callable[[str], str | None]:
    def check(name: str) -> str | None:
        if not pattern.fullmatch(name):
            return why
        if len(name) > limit:
            return f"is {len(name)} characters long; the limit is {limit}"
        return None

    return check


def _path_segment(name: str) -> str | None:
    if name in (".", "..") or "/" in name or "%" in name:
        return "must not be '.' or '..' or contain '/' or '%'"
    return None


_check_subdomain = _name_rule(_DNS1123_SUBDOMAIN, 253, _SUBDOMAIN)
_check_dns_label = _name_rule(_DNS1123_LABEL, 63, _LABEL)

# (group, kind) -> name rule, where the API server or a webhook is stricter or looser than
# the default RFC 1123 subdomain.
_NAME_RULES: dict[tuple[str, str], Callable[[str], str | None]] = {
    ("", "Namespace"): _check_dns_label,
    ("", "Service"): _name_rule(_DNS1035_LABEL, 63, "must be an RFC 1035 label (a-z first)"),
    # Jobs get an 11-character suffix: the API server limits CronJob names to 52.
    ("batch", "CronJob"): _name_rule(_DNS1123_SUBDOMAIN, 52, _SUBDOMAIN),
    # KServe's webhook (inference_service_validation.go) rejects names with '.'.
    ("serving.kserve.io", "InferenceService"): _name_rule(
        _DNS1035_LABEL, 253, "must match [a-z]([-a-z0-9]*[a-z0-9])? (KServe webhook)"
    ),
    **{
        ("rbac.authorization.k8s.io", kind): _path_segment
        for kind in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
    },
}


def metadata_problems(obj: dict[str, Any], group: str, kind: str) -> Iterator[SchemaProblem]:
    """What is wrong with ``obj``'s metadata beyond its schema (``group``/``kind`` pick the
    name rule)."""
    meta = obj.get("metadata")
    if meta is None:
        yield SchemaProblem("", "missing required field 'metadata'")
        return
    if not isinstance(meta, dict):
        return  # the schema already reported the type
    name = meta.get("name")
    if name is None:
        yield SchemaProblem("/metadata", "missing required field 'name'")
    elif isinstance(name, str):
        why = _NAME_RULES.get((group, kind), _check_subdomain)(name)
        if why:
            yield SchemaProblem("/metadata/name", f"{show(name)} {why}")
    namespace = meta.get("namespace")
    if isinstance(namespace, str) and (why := _check_dns_label(namespace)):
        yield SchemaProblem("/metadata/namespace", f"{show(namespace)} {why}")
    yield from _label_problems(meta.get("labels"))
    yield from _annotation_problems(meta.get("annotations"))


def _label_problems(labels: Any) -> Iterator[SchemaProblem]:
    if not isinstance(labels, dict):
        return
    for key, value in labels.items():
        found = _label_syntax(key, value if isinstance(value, str) else "")
        if found:
            path = f"/metadata/labels/{escape(key)}"
            yield from (SchemaProblem(path, message) for message in found)


@functools.lru_cache(maxsize=4096, typed=True)  # a few keys and values, on every object
def _label_syntax(key: Any, value: str) -> tuple[str, ...]:
    """What is wrong with one label (``value`` "" when it is not a string)."""
    found = []
    if why := _qualified_name_problem(key):
        found.append(f"label key {why}")
    if len(value) > _LABEL_VALUE_MAX:
        found.append(f"label value is {len(value)} characters; limit 63")
    elif value and not _QUALIFIED_NAME.fullmatch(value):
        found.append(
            f"label value {show(value)} must be alphanumeric, '-', '_' or '.'"
            " inside, and start and end alphanumeric"
        )
    return tuple(found)


def _annotation_problems(annotations: Any) -> Iterator[SchemaProblem]:
    if not isinstance(annotations, dict):
        return
    size = 0
    for key, value in annotations.items():
        if why := _annotation_key_problem(key):
            yield SchemaProblem(f"/metadata/annotations/{escape(key)}", f"annotation key {why}")
        size += len(str(key).encode()) + len(str(value).encode())
    if size > _ANNOTATIONS_MAX_BYTES:
        yield SchemaProblem("/metadata/annotations", f"total size {size} bytes exceeds 256 KiB")


@functools.lru_cache(maxsize=1024, typed=True)  # the same few keys, on every object
def _annotation_key_problem(key: Any) -> str | None:
    # The API server lower-cases annotation keys before checking them.
    return _qualified_name_problem(key.lower() if isinstance(key, str) else key)


def _qualified_name_problem(key: Any) -> str | None:
    """Why ``key`` is not a Kubernetes qualified name (``[prefix/]name``), or None."""
    if not isinstance(key, str):
        return f"{show(key)} is not a string"
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or _check_subdomain(prefix)):
        return f"{show(key)}: prefix must be a lowercase RFC 1123 subdomain"
    if len(name) > _LABEL_VALUE_MAX:
        return f"{show(key)}: name part is {len(name)} characters; limit 63"
    if not _QUALIFIED_NAME.fullmatch(name):
        return (
            f"{show(key)}: name part must be alphanumeric, '-', '_' or '.' inside,"
            " and start and end alphanumeric"
        )
    return None
