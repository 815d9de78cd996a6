"""Identifier rules (RELIABILITY.md rule 3).

Every name in the spec ends up in a Kubernetes object name, a label value, a file
path or a KFP identifier. The rules live here so that the schema, the checks on
derived names and the writer agree.
"""

from __future__ import annotations

import re

DNS_LABEL_MAX = 63
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

NAME_PATTERN = DNS1123_LABEL.pattern
IDENTIFIER_PATTERN = IDENTIFIER.pattern


def dns1123_label_problem(name: str) -> str | None:
    """Why ``name`` is not an RFC 1123 label, or None when it is one."""
    if not name:
        return "is empty"
    if len(name) > DNS_LABEL_MAX:
        return f"is {len(name)} characters long; the limit is {DNS_LABEL_MAX}"
    if not DNS1123_LABEL.match(name):
        return (
            "must consist of lower-case letters, digits and '-', "
            "and start and end with a letter or digit (RFC 1123 label)"
        )
    return None


def dns1035_label_problem(name: str) -> str | None:
    """Like `dns1123_label_problem`, but the name must start with a letter."""
    problem = dns1123_label_problem(name)
    if problem is None and not DNS1035_LABEL.match(name):
        return "must start with a letter (RFC 1035 label)"
    return problem


def label_value_problem(value: str) -> str | None:
    if len(value) > DNS_LABEL_MAX:
        return f"is {len(value)} characters long; a label value is limited to {DNS_LABEL_MAX}"
    if not LABEL_VALUE.match(value):
        return (
            "must be a Kubernetes label value: letters, digits, '-', '_' and '.', "
            "starting and ending with a letter or digit"
        )
    return None


def suggest_label(name: str) -> str:
    """A close RFC 1123 label for a hint: ``Fraud_Team`` -> ``fraud-team``."""
    lowered = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    return lowered[:DNS_LABEL_MAX].rstrip("-") or "name"
