"""The loader's shortcuts decide as its full checks would."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlspec.diagnostics import Location
from mlspec.spec.loader import (
    _LETTERS,
    _NOT_STRING_WORDS,
    _SAFE_INT,
    _Builder,
    _FatalProblemError,
    _plain_scalar_problem,
    _resolve_plain,
    load_text,
)
from mlspec.spec.loader import DEFAULT_LIMITS as LIMITS
from mlspec.spec.parsers import SCALAR, Event
from mlspec.spec.source import NodeSource

_YAML_WORDS = [*sorted(_NOT_STRING_WORDS), "y", "n", "<<", "~", "0755", "1:20", "2024-01-01"]
_SCALARS = st.one_of(
    st.text(alphabet=string.ascii_letters + string.digits + "._+-~:<eE", max_size=12),
    st.sampled_from(_YAML_WORDS),
    st.builds(str, st.integers(min_value=-(10**120), max_value=10**120)),
    st.text(max_size=4),
)


@settings(max_examples=2000)
@given(_SCALARS)
def test_a_word_is_a_string_to_the_full_checks(text: str) -> None:
    if text[:1] in _LETTERS and text not in _NOT_STRING_WORDS:
        assert _plain_scalar_problem(text) is None
        assert _resolve_plain(text) == text


@settings(max_examples=2000)
@given(_SCALARS)
def test_a_safe_integer_is_an_integer_to_the_full_checks(text: str) -> None:
    if _SAFE_INT.match(text):
        assert _plain_scalar_problem(text) is None
        assert _resolve_plain(text) == int(text)


@settings(max_examples=2000)
@given(_SCALARS)
def test_a_word_key_passes_the_full_key_checks(text: str) -> None:
    if text[:1] in _LETTERS and text not in _NOT_STRING_WORDS:
        builder = _Builder("f.yaml", LIMITS)
        builder._check_plain_key(Event(SCALAR, 0, 0, text, plain=True), text)  # no failure


@pytest.mark.parametrize("word", sorted(_NOT_STRING_WORDS))
def test_every_word_that_is_not_a_string_fails_as_a_key(word: str) -> None:
    builder = _Builder("f.yaml", LIMITS)
    with pytest.raises(_FatalProblemError):
        builder._check_plain_key(Event(SCALAR, 0, 0, word, plain=True), word)


def test_locations_are_made_when_asked() -> None:
    loaded = load_text("a:\n  - b: x\n", "f.yaml")
    root, item, member = (loaded.sources.get(p) for p in ("", "/a/0", "/a/0/b"))
    assert root == NodeSource("f.yaml", 1, 1) and root.key is None
    assert item is not None and item.value == Location("f.yaml", 2, 5) and item.key is None
    assert member is not None and member.key == Location("f.yaml", 2, 5)
    assert member.value == Location("f.yaml", 2, 8) and member.plain_text == "x"


def test_duplicate_key_names_both_places() -> None:
    loaded = load_text("a: 1\nb:\n  c: 2\n  c: 3\n", "f.yaml")
    (diag,) = loaded.diagnostics
    assert (diag.code, str(diag.location), diag.pointer) == ("MLS002", "f.yaml:4:3", "/b/c")
    assert diag.related == (Location("f.yaml", 3, 3),)
    assert diag.message == "duplicate key 'c' (first defined at line 3)"
