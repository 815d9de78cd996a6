"""Tests of mlspec.spec.quantities: parsing, canonical forms, ordering, pydantic glue."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, ValidationError

from mlspec.spec.quantities import (
    Cpu,
    Duration,
    Memory,
    Percent,
    QuantityError,
    parse_cpu,
    parse_duration,
    parse_memory,
    parse_percent,
)

Ki, Mi, Gi, Ti = 2**10, 2**20, 2**30, 2**40

# ----------------------------------------------------------------------------- cpu


@pytest.mark.parametrize(
    ("value", "millicores", "canonical"),
    [
        (64, 64_000, "64"),
        (4, 4_000, "4"),
        (1, 1_000, "1"),
        (2.5, 2_500, "2500m"),
        (0.1, 100, "100m"),
        (0.001, 1, "1m"),
        (4.0, 4_000, "4"),
        ("4", 4_000, "4"),
        ("4.0", 4_000, "4"),
        ("0.5", 500, "500m"),
        (".5", 500, "500m"),
        ("2.", 2_000, "2"),
        ("500m", 500, "500m"),
        ("1000m", 1_000, "1"),
        ("2500m", 2_500, "2500m"),
        ("1m", 1, "1m"),
        ("0.25", 250, "250m"),
    ],
)
def test_cpu_valid(value: object, millicores: int, canonical: str) -> None:
    cpu = parse_cpu(value)
    assert cpu.millicores == millicores
    assert cpu.canonical == canonical
    assert str(cpu) == canonical


def test_cpu_cores_is_an_exact_decimal() -> None:
    assert parse_cpu("500m").cores == Decimal("0.5")
    assert str(parse_cpu(4).cores) == "4"
    assert str(parse_cpu("2500m").cores) == "2.5"
    assert isinstance(parse_cpu(0.1).cores, Decimal)
    assert parse_cpu(0.1).cores == Decimal("0.1")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "invalid cpu quantity True"),
        (False, "invalid cpu quantity False"),
        (None, "of type NoneType"),
        ([4], "of type list"),
        (0, "must be greater than 0"),
        ("0", "must be greater than 0"),
        ("0m", "must be greater than 0"),
        (-1, "must be greater than 0"),
        ("-500m", "must be greater than 0"),
        (0.0005, "finer than 1m"),
        ("0.0005", "finer than 1m"),
        ("1.5m", "finer than 1m"),
        (float("nan"), "expected a number of cores"),
        (float("inf"), "expected a number of cores"),
        ("", "expected a number of cores"),
        ("four", "expected a number of cores"),
        ("1e3", "expected a number of cores"),
        ("1k", "expected a number of cores"),
        ("4 ", "expected a number of cores"),
        ("\u0664", "expected a number of cores"),  # ARABIC-INDIC DIGIT FOUR is no digit here
    ],
)
def test_cpu_invalid(value: object, message: str) -> None:
    with pytest.raises(QuantityError, match=re.escape(message)):
        parse_cpu(value)


@pytest.mark.parametrize(
    ("text", "suggestion"),
    [
        ("500 m", "500m"),
        ("500M", "500m"),
        ("2 cores", "2"),
        ("1core", "1"),
        ("4 CPUs", "4"),
        ("0.5vcpu", "0.5"),
        (" 4", "4"),
        ("+2", "2"),
    ],
)
def test_cpu_suggestions(text: str, suggestion: str) -> None:
    with pytest.raises(QuantityError) as caught:
        parse_cpu(text)
    assert caught.value.suggestions == (suggestion,)
    assert str(caught.value).endswith(f'(did you mean "{suggestion}"?)')


def test_cpu_constructor_checks_its_field() -> None:
    assert Cpu(500) == parse_cpu("500m")
    with pytest.raises(ValueError, match="greater than 0"):
        Cpu(0)
    with pytest.raises(TypeError):
        Cpu(True)
    with pytest.raises(TypeError):
        Cpu(1.5)  # type: ignore[arg-type]


# -------------------------------------------------------------------------- memory


@pytest.mark.parametrize(
    ("value", "nbytes", "canonical"),
    [
        ("256Gi", 256 * Gi, "256Gi"),
        ("16Gi", 16 * Gi, "16Gi"),
        ("512Mi", 512 * Mi, "512Mi"),
        ("1.5Gi", 1536 * Mi, "1536Mi"),
        ("0.5Ki", 512, "512"),
        ("1024Mi", Gi, "1Gi"),
        ("1G", 10**9, "1G"),
        ("500M", 500 * 10**6, "500M"),
        ("1024M", 1024 * 10**6, "1024M"),  # shorter than "1000000Ki"
        ("2048k", 2_048_000, "2000Ki"),  # "k" is never emitted
        ("1k", 1000, "1000"),
        (1000, 1000, "1000"),
        ("1000", 1000, "1000"),
        (1_000_000, 10**6, "1M"),
        (1024, Ki, "1Ki"),
        (1, 1, "1"),
        ("1.5", None, None),
        ("1Ti", Ti, "1Ti"),
        ("1Pi", 2**50, "1Pi"),
        ("2Ei", 2**61, "2Ei"),
        ("3P", 3 * 10**15, "3P"),
        ("7T", 7 * 10**12, "7T"),
        ("1E", 10**18, "1E"),
        ("0.5G", 5 * 10**8, "500M"),
        ("1.", 1, "1"),
    ],
)
def test_memory_valid(value: object, nbytes: int | None, canonical: str | None) -> None:
    if nbytes is None:
        with pytest.raises(QuantityError, match="not a whole number of bytes"):
            parse_memory(value)
        return
    memory = parse_memory(value)
    assert memory.bytes == nbytes
    assert memory.canonical == canonical
    assert str(memory) == canonical


def test_memory_canonical_prefers_binary_on_a_tie() -> None:
    # "968750Mi" and "1015808M" are both 8 characters long.
    assert Memory(1_015_808_000_000).canonical == "968750Mi"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "invalid memory quantity True"),
        (None, "of type NoneType"),
        (1.5, "expected an integer number of bytes"),
        (0, "must be greater than 0"),
        ("0Gi", "must be greater than 0"),
        (-1, "must be greater than 0"),
        ("-1Gi", "must be greater than 0"),
        ("0.1", "not a whole number of bytes"),
        ("1.0001Ki", "not a whole number of bytes"),
        ("", "expected a number with a suffix"),
        ("Gi", "expected a number with a suffix"),
        ("16Xi", "expected a number with a suffix"),
        ("+1Gi", "expected a number with a suffix"),
        ("1" * 65, "longer than 64 characters"),
    ],
)
def test_memory_invalid(value: object, message: str) -> None:
    with pytest.raises(QuantityError, match=re.escape(message)):
        parse_memory(value)


def test_memory_error_message_reads_well() -> None:
    with pytest.raises(QuantityError) as caught:
        parse_memory("16GB")
    assert str(caught.value) == (
        'invalid memory quantity "16GB": expected a number with a suffix '
        "Ki, Mi, Gi, Ti, Pi, Ei, k, M, G, T, P or E "
        '(did you mean "16G" or "16Gi"?)'
    )


@pytest.mark.parametrize(
    ("value", "suggestions"),
    [
        ("16GB", ("16G", "16Gi")),
        ("16gb", ("16G", "16Gi")),
        ("16g", ("16G", "16Gi")),
        ("16gi", ("16Gi",)),
        ("16GI", ("16Gi",)),
        ("16GiB", ("16Gi",)),
        ("16 Gi", ("16Gi",)),
        ("512MB", ("512M", "512Mi")),
        ("512m", ("512M", "512Mi")),  # "m" is milli in Kubernetes: 0.512 bytes
        ("16K", ("16k", "16Ki")),
        ("16KB", ("16k", "16Ki")),
        ("100B", ("100",)),
        ("1e9", ("1G",)),
        (1024.0, ("1024",)),
        ("lots", ()),
    ],
)
def test_memory_suggestions(value: object, suggestions: tuple[str, ...]) -> None:
    with pytest.raises(QuantityError) as caught:
        parse_memory(value)
    assert caught.value.suggestions == suggestions


def test_memory_constructor_checks_its_field() -> None:
    assert Memory(Gi) == parse_memory("1Gi")
    with pytest.raises(ValueError, match="greater than 0"):
        Memory(-1)
    with pytest.raises(TypeError):
        Memory(False)


# ------------------------------------------------------------------------ duration


@pytest.mark.parametrize(
    ("text", "milliseconds", "canonical"),
    [
        ("150ms", 150, "150ms"),
        ("4h", 4 * 3_600_000, "4h"),
        ("30s", 30_000, "30s"),
        ("90s", 90_000, "1m30s"),
        ("1h30m", 5_400_000, "1h30m"),
        ("90m", 5_400_000, "1h30m"),
        ("1.5h", 5_400_000, "1h30m"),
        ("30m1h", 5_400_000, "1h30m"),  # parts in any order, as in Go
        ("2d", 2 * 86_400_000, "2d"),
        ("36h", 36 * 3_600_000, "1d12h"),
        ("24h", 86_400_000, "1d"),
        ("1500ms", 1_500, "1s500ms"),
        ("1.5s", 1_500, "1s500ms"),
        ("1d2h3m4s5ms", 93_784_005, "1d2h3m4s5ms"),
        ("0.001s", 1, "1ms"),
        ("0h1m", 60_000, "1m"),
    ],
)
def test_duration_valid(text: str, milliseconds: int, canonical: str) -> None:
    duration = parse_duration(text)
    assert duration.milliseconds == milliseconds
    assert duration.canonical == canonical
    assert str(duration) == canonical
    assert duration.to_prometheus() == canonical


def test_duration_seconds_and_go_form() -> None:
    assert parse_duration("150ms").seconds == Decimal("0.15")
    assert str(parse_duration("4h").seconds) == "14400"
    assert parse_duration("36h").to_go() == "36h"
    assert parse_duration("2d90s").to_go() == "48h1m30s"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (30, "expected a string with a unit"),
        (1.5, "expected a string with a unit"),
        (True, "invalid duration True"),
        (None, "of type NoneType"),
        ("0s", "must be greater than 0"),
        ("0ms", "must be greater than 0"),
        ("-5s", "must be greater than 0"),
        ("0.5ms", "finer than 1ms"),
        ("1.0001s", "finer than 1ms"),
        ("", "expected a number with a unit"),
        ("30", "expected a number with a unit"),
        ("h", "expected a number with a unit"),
        ("1y", "expected a number with a unit"),
        ("10us", "expected a number with a unit"),
        ("1h-30m", "expected a number with a unit"),
    ],
)
def test_duration_invalid(value: object, message: str) -> None:
    with pytest.raises(QuantityError, match=re.escape(message)):
        parse_duration(value)


@pytest.mark.parametrize(
    ("value", "suggestions"),
    [
        ("4 h", ("4h",)),
        ("4H", ("4h",)),
        ("1h 30m", ("1h30m",)),
        ("1H30M", ("1h30m",)),
        ("30sec", ("30s",)),
        ("2 hours", ("2h",)),
        ("5 min", ("5m",)),
        ("100msec", ("100ms",)),
        ("3days", ("3d",)),
        ("1w", ("7d",)),
        ("30", ("30s",)),
        (30, ("30s",)),
        ("1y", ()),
        ("soon", ()),
    ],
)
def test_duration_suggestions(value: object, suggestions: tuple[str, ...]) -> None:
    with pytest.raises(QuantityError) as caught:
        parse_duration(value)
    assert caught.value.suggestions == suggestions


def test_duration_error_message_reads_well() -> None:
    with pytest.raises(QuantityError) as caught:
        parse_duration("4 h")
    assert str(caught.value) == (
        'invalid duration "4 h": expected a number with a unit ms, s, m, h or d, '
        'e.g. "30s", "150ms" or "1h30m" (did you mean "4h"?)'
    )


# ------------------------------------------------------------------------- percent


@pytest.mark.parametrize(
    ("text", "percent", "canonical"),
    [
        ("1%", "1", "1%"),
        ("0.5%", "0.5", "0.5%"),
        (".5%", "0.5", "0.5%"),
        ("1.50%", "1.5", "1.5%"),
        ("0%", "0", "0%"),
        ("0.0%", "0", "0%"),
        ("100%", "100", "100%"),
        ("100.00%", "100", "100%"),
        ("99.999%", "99.999", "99.999%"),
        ("010%", "10", "10%"),
    ],
)
def test_percent_valid(text: str, percent: str, canonical: str) -> None:
    value = parse_percent(text)
    assert value.percent == Decimal(percent)
    assert str(value.percent) == percent  # normalized: no "1.50", no "1E+2"
    assert value.canonical == canonical
    assert str(value) == canonical


def test_percent_fraction() -> None:
    assert parse_percent("1%").fraction == Decimal("0.01")
    assert parse_percent("0.5%").fraction == Decimal("0.005")
    assert parse_percent("100%").fraction == 1
    assert parse_percent("0%").fraction == 0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1, "expected a string with a % suffix"),
        (0.5, "expected a string with a % suffix"),
        (True, "invalid percentage True"),
        (None, "of type NoneType"),
        ("150%", "must be between 0% and 100%"),
        ("100.01%", "must be between 0% and 100%"),
        ("-1%", "must be between 0% and 100%"),
        ("%", "expected a number followed by %"),
        ("1", "expected a number followed by %"),
        ("1%%", "expected a number followed by %"),
        ("one%", "expected a number followed by %"),
    ],
)
def test_percent_invalid(value: object, message: str) -> None:
    with pytest.raises(QuantityError, match=re.escape(message)):
        parse_percent(value)


@pytest.mark.parametrize(
    ("value", "suggestions"),
    [
        ("1 %", ("1%",)),
        (" 0.5% ", ("0.5%",)),
        ("1", ("1%",)),
        ("1pct", ("1%",)),
        ("2 percent", ("2%",)),
        (1, ("1%",)),
        (0.5, ("0.5%", "50%")),
        (250, ()),
        ("lots", ()),
    ],
)
def test_percent_suggestions(value: object, suggestions: tuple[str, ...]) -> None:
    with pytest.raises(QuantityError) as caught:
        parse_percent(value)
    assert caught.value.suggestions == suggestions


def test_percent_constructor_checks_and_normalizes() -> None:
    assert Percent(Decimal("1.50")) == parse_percent("1.5%")
    assert repr(Percent(Decimal("1.50"))) == "Percent(percent=Decimal('1.5'))"
    with pytest.raises(ValueError, match="between 0 and 100"):
        Percent(Decimal("101"))
    with pytest.raises(TypeError):
        Percent(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Percent(Decimal("NaN"))


# ------------------------------------------------- value semantics shared by all four


SAMPLES: list[tuple[type[Any], Any, Any, Any]] = [
    # (type, small, same value as small written differently, large)
    (Cpu, parse_cpu("500m"), parse_cpu(0.5), parse_cpu(4)),
    (Memory, parse_memory("1Gi"), parse_memory("1024Mi"), parse_memory("1.5Gi")),
    (Duration, parse_duration("90s"), parse_duration("1m30s"), parse_duration("4h")),
    (Percent, parse_percent("0.5%"), parse_percent("0.50%"), parse_percent("1%")),
]


@pytest.mark.parametrize(("kind", "small", "same", "large"), SAMPLES)
def test_equality_hashing_ordering(kind: type[Any], small: Any, same: Any, large: Any) -> None:
    assert isinstance(small, kind)
    assert small == same
    assert hash(small) == hash(same)
    assert len({small, same, large}) == 2
    assert small < large
    assert small <= same
    assert large > small
    assert large >= small
    assert small != large
    assert sorted([large, small, same]) == [small, same, large]
    assert min(large, small) == small


@pytest.mark.parametrize(("kind", "small", "same", "large"), SAMPLES)
def test_immutable(kind: type[Any], small: Any, same: Any, large: Any) -> None:
    field = next(iter(kind.__dataclass_fields__))
    with pytest.raises(AttributeError):
        setattr(small, field, getattr(large, field))


@pytest.mark.parametrize(("kind", "small", "same", "large"), SAMPLES)
def test_parse_accepts_an_instance(kind: type[Any], small: Any, same: Any, large: Any) -> None:
    assert kind.parse(small) is small


def test_different_kinds_never_compare_equal() -> None:
    assert Cpu(1000) != Memory(1000)  # type: ignore[comparison-overlap]
    assert Duration(1000) != Cpu(1000)  # type: ignore[comparison-overlap]
    with pytest.raises(TypeError):
        assert Cpu(1) < Memory(2)  # type: ignore[operator]


def test_errors_are_value_errors() -> None:
    for parse, bad in [
        (parse_cpu, "x"),
        (parse_memory, "x"),
        (parse_duration, "x"),
        (parse_percent, "x"),
    ]:
        with pytest.raises(ValueError):
            parse(bad)


# ------------------------------------------------------------------------ pydantic


class Resources(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    cpu: Cpu
    memory: Memory
    timeout: Duration
    error_rate: Percent
    latency: Duration | None = None


def test_pydantic_strict_accepts_documented_inputs() -> None:
    model = Resources.model_validate(
        {"cpu": 4, "memory": "256Gi", "timeout": "4h", "error_rate": "1%", "latency": "150ms"}
    )
    assert model.cpu == Cpu(4000)
    assert model.memory.bytes == 256 * Gi
    assert model.timeout.milliseconds == 4 * 3_600_000
    assert model.error_rate.fraction == Decimal("0.01")
    assert model.latency == Duration(150)

    other = Resources.model_validate(
        {"cpu": "500m", "memory": 1_000_000, "timeout": "1h30m", "error_rate": "0.5%"}
    )
    assert other.cpu.millicores == 500
    assert other.latency is None
    assert Resources.model_validate({**other.model_dump(), "cpu": 2.5}).cpu == Cpu(2500)


def test_pydantic_serializes_canonical_and_round_trips() -> None:
    model = Resources.model_validate(
        {"cpu": 2.5, "memory": "1.5Gi", "timeout": "90s", "error_rate": "0.50%"}
    )
    dumped = model.model_dump()
    assert dumped == {
        "cpu": "2500m",
        "memory": "1536Mi",
        "timeout": "1m30s",
        "error_rate": "0.5%",
        "latency": None,
    }
    assert json.loads(model.model_dump_json()) == dumped
    assert Resources.model_validate(dumped) == model
    assert Resources.model_validate_json(model.model_dump_json()) == model


def test_pydantic_accepts_instances() -> None:
    model = Resources(
        cpu=Cpu(1000), memory=Memory(Gi), timeout=Duration(1000), error_rate=Percent(Decimal(1))
    )
    assert model.model_dump()["memory"] == "1Gi"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("cpu", True, "invalid cpu quantity True"),
        ("cpu", "500 m", 'did you mean "500m"?'),
        ("memory", True, "invalid memory quantity True"),
        ("memory", "16GB", 'did you mean "16G" or "16Gi"?'),
        ("memory", "16gi", 'did you mean "16Gi"?'),
        ("timeout", False, "invalid duration False"),
        ("timeout", 30, 'did you mean "30s"?'),
        ("timeout", "4 h", 'did you mean "4h"?'),
        ("error_rate", True, "invalid percentage True"),
        ("error_rate", "1 %", 'did you mean "1%"?'),
        ("error_rate", "101%", "must be between 0% and 100%"),
    ],
)
def test_pydantic_reports_errors(field: str, value: object, message: str) -> None:
    data: dict[str, object] = {
        "cpu": 1,
        "memory": "1Gi",
        "timeout": "1s",
        "error_rate": "1%",
        field: value,
    }
    with pytest.raises(ValidationError) as caught:
        Resources.model_validate(data)
    errors = caught.value.errors()
    assert len(errors) == 1
    assert errors[0]["loc"] == (field,)
    assert errors[0]["type"] == "value_error"
    assert message in errors[0]["msg"]


def test_pydantic_json_errors_too() -> None:
    with pytest.raises(ValidationError, match="did you mean"):
        Resources.model_validate_json(
            '{"cpu": 1, "memory": "16GB", "timeout": "1s", "error_rate": "1%"}'
        )


def _properties(mode: str) -> dict[str, Any]:
    schema = Resources.model_json_schema(mode=mode)  # type: ignore[arg-type]
    properties: dict[str, Any] = schema["properties"]
    return properties


def _string_pattern(schema: dict[str, Any]) -> str:
    strings = [s for s in schema.get("anyOf", [schema]) if s.get("type") == "string"]
    assert len(strings) == 1
    pattern: str = strings[0]["pattern"]
    return pattern


def test_json_schema_validation_mode() -> None:
    props = _properties("validation")
    assert props["cpu"]["examples"] == [4, "500m"]
    assert {s["type"] for s in props["cpu"]["anyOf"]} == {"number", "string"}
    assert props["memory"]["examples"] == ["16Gi", "512Mi"]
    assert {s["type"] for s in props["memory"]["anyOf"]} == {"integer", "string"}
    assert props["timeout"]["type"] == "string"
    assert props["timeout"]["examples"] == ["150ms", "4h", "1h30m"]
    assert props["error_rate"]["type"] == "string"
    assert props["error_rate"]["examples"] == ["1%", "0.5%"]
    for name in ("cpu", "memory", "timeout", "error_rate"):
        assert props[name]["description"]
    # An optional field keeps the details inside its anyOf.
    assert any(s.get("pattern") for s in props["latency"]["anyOf"])


@pytest.mark.parametrize(
    ("field", "good", "bad"),
    [
        ("cpu", ["4", "0.5", "500m", ".5"], ["500 m", "4 cores", "1e3", "-1"]),
        ("memory", ["16Gi", "1.5Gi", "1G", "1000"], ["16GB", "16gi", "16 Gi", "1e9"]),
        ("timeout", ["150ms", "4h", "1h30m", "2d"], ["4 h", "30", "1y", "h"]),
        ("error_rate", ["1%", "0.5%", "100%"], ["1 %", "1", "%"]),
    ],
)
def test_json_schema_patterns_agree_with_the_parser(
    field: str, good: list[str], bad: list[str]
) -> None:
    pattern = _string_pattern(_properties("validation")[field])
    assert pattern.startswith("^")
    assert pattern.endswith("$")
    for text in good:
        assert re.search(pattern, text), text
    for text in bad:
        assert not re.search(pattern, text), text


def test_json_schema_examples_are_valid() -> None:
    props = _properties("validation")
    for field, parse in [
        ("cpu", parse_cpu),
        ("memory", parse_memory),
        ("timeout", parse_duration),
        ("error_rate", parse_percent),
    ]:
        for example in props[field]["examples"]:
            parse(example)


def test_json_schema_serialization_mode_describes_canonical_strings() -> None:
    props = _properties("serialization")
    model = Resources.model_validate(
        {"cpu": 2.5, "memory": "1.5Gi", "timeout": "90s", "error_rate": "0.50%"}
    )
    for field, value in model.model_dump().items():
        if value is None:
            continue
        assert props[field]["type"] == "string"
        assert re.search(props[field]["pattern"], value), (field, value)


# ----------------------------------------------------------- properties: round trips

millicores = st.integers(min_value=1, max_value=10**9)
byte_counts = st.one_of(
    st.integers(min_value=1, max_value=2**70),
    st.builds(
        lambda n, factor: n * factor,
        st.integers(min_value=1, max_value=10**6),
        st.sampled_from([2**10, 2**20, 2**30, 2**40, 10**3, 10**6, 10**9, 10**12]),
    ),
)
milliseconds = st.integers(min_value=1, max_value=10**13)
percents = st.decimals(min_value=0, max_value=100, places=4, allow_nan=False)


@given(millicores)
def test_cpu_canonical_round_trips(value: int) -> None:
    cpu = Cpu(value)
    assert parse_cpu(cpu.canonical) == cpu
    assert parse_cpu(str(cpu.cores)) == cpu
    assert re.fullmatch(r"[1-9][0-9]*m?", cpu.canonical)


@given(byte_counts)
def test_memory_canonical_round_trips(value: int) -> None:
    memory = Memory(value)
    assert parse_memory(memory.canonical) == memory
    assert len(memory.canonical) <= len(str(value))


@given(milliseconds)
def test_duration_canonical_round_trips(value: int) -> None:
    duration = Duration(value)
    assert parse_duration(duration.canonical) == duration
    assert parse_duration(duration.to_go()) == duration
    assert parse_duration(f"{duration.seconds}s") == duration


@given(percents)
def test_percent_canonical_round_trips(value: Decimal) -> None:
    percent = Percent(value)
    assert parse_percent(percent.canonical) == percent
    assert percent.percent == value
    assert percent.fraction * 100 == value


@given(
    st.integers(min_value=1, max_value=10**6),
    st.sampled_from(["", "Ki", "Mi", "Gi", "Ti", "k", "M", "G", "T"]),
)
def test_memory_parsed_text_round_trips(number: int, suffix: str) -> None:
    memory = parse_memory(f"{number}{suffix}")
    assert parse_memory(memory.canonical) == memory
    assert parse_memory(memory.bytes) == memory


@given(
    st.lists(
        st.tuples(st.integers(0, 10**4), st.sampled_from(["ms", "s", "m", "h", "d"])),
        max_size=8,  # 8 * len("10000ms") stays under the 64-character limit
    )
)
def test_duration_parts_add_up(parts: list[tuple[int, str]]) -> None:
    unit_ms = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
    total = sum(n * unit_ms[unit] for n, unit in parts)
    text = "".join(f"{n}{unit}" for n, unit in parts)
    if total == 0:
        with pytest.raises(QuantityError):
            parse_duration(text)
        return
    duration = parse_duration(text)
    assert duration.milliseconds == total
    assert parse_duration(duration.canonical) == duration


@given(millicores, millicores)
def test_ordering_follows_magnitude(a: int, b: int) -> None:
    assert (Cpu(a) < Cpu(b)) == (a < b)
    assert (Memory(a) <= Memory(b)) == (a <= b)
    assert (Duration(a) > Duration(b)) == (a > b)
