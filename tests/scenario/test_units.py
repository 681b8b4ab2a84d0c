"""Sizes and durations as scenario files write them."""

from __future__ import annotations

import pytest

from harness.scenario import format_size, parse_duration, parse_size

MiB = 1024**2
GiB = 1024**3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.5Gi", 512 * MiB),
        ("512Mi", 512 * MiB),
        ("512m", 512 * MiB),
        ("512M", 512 * MiB),
        ("600MB", 600 * MiB),
        ("600mb", 600 * MiB),
        ("1g", GiB),
        ("1G", GiB),
        ("1gb", GiB),
        ("1GiB", GiB),
        ("2k", 2048),
        ("2Ki", 2048),
        ("1t", 1024**4),
        ("1Ti", 1024**4),
        ("100", 100),
        ("100b", 100),
        ("100B", 100),
        (" 64 Mi ", 64 * MiB),
        ("1.5Gi", 1536 * MiB),
        (".5k", 512),
        ("0", 0),
        (1048576, MiB),
        (0, 0),
    ],
)
def test_parse_size_accepts_docker_forms(text: int | str, expected: int) -> None:
    assert parse_size(text) == expected


def test_parse_size_rounds_fractional_bytes_down() -> None:
    assert parse_size("0.3k") == 307  # 307.2 bytes
    assert parse_size("1.5") == 1


@pytest.mark.parametrize("bad", ["12xb", "", "Gi", "1.2.3m", "5 m b", "1e9", "ten", "1mm", "0x10"])
def test_parse_size_rejects_garbage_with_a_hint(bad: str) -> None:
    with pytest.raises(ValueError, match=r"is not a size \(use 512Mi, 0.5Gi, 512m or bytes\)"):
        parse_size(bad)


@pytest.mark.parametrize("bad", [-1, "-5m", "-0.5Gi"])
def test_parse_size_rejects_negatives(bad: int | str) -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        parse_size(bad)


@pytest.mark.parametrize("bad", [True, False, None, [1], {"m": 1}])
def test_parse_size_rejects_non_sizes(bad: object) -> None:
    with pytest.raises(ValueError, match="is not a size"):
        parse_size(bad)  # type: ignore[arg-type]


def test_parse_size_message_quotes_the_value() -> None:
    with pytest.raises(ValueError) as info:
        parse_size("12xb")
    assert str(info.value).startswith('"12xb" is not a size')


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("500ms", 0.5),
        ("2s", 2.0),
        ("1.5s", 1.5),
        ("2m", 120.0),
        ("1h", 3600.0),
        ("30", 30.0),
        ("2S", 2.0),
        ("250MS", 0.25),
        (" 3 s ", 3.0),
        ("0s", 0.0),
        (2, 2.0),
        (0.25, 0.25),
    ],
)
def test_parse_duration(value: int | float | str, expected: float) -> None:
    result = parse_duration(value)
    assert result == pytest.approx(expected)
    assert isinstance(result, float)


@pytest.mark.parametrize(
    "bad", ["soon", "2x", "", "1d", "s", "1.2.3s", True, None, float("nan"), float("inf")]
)
def test_parse_duration_rejects_garbage_with_a_hint(bad: object) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [-1, -0.5, "-2s"])
def test_parse_duration_rejects_negatives(bad: int | float | str) -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        parse_duration(bad)


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (512 * MiB, "512 MiB"),
        (GiB, "1 GiB"),
        (1536 * MiB, "1.5 GiB"),
        (6 * MiB, "6 MiB"),
        (2048, "2 KiB"),
        (600, "600 B"),
        (0, "0 B"),
        (1024**4, "1 TiB"),
    ],
)
def test_format_size(n: int, text: str) -> None:
    assert format_size(n) == text


def test_format_size_round_trips_through_parse_size() -> None:
    assert parse_size(format_size(512 * MiB).replace(" ", "")) == 512 * MiB


def test_format_size_rejects_negative() -> None:
    with pytest.raises(ValueError):
        format_size(-1)
