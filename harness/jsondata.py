"""The one way the harness turns its result models into JSON data and back: pydantic
TypeAdapters over the models' own dataclasses.

A dataclass says how its JSON looks by its field types alone (tuples become arrays,
mappings objects); where a field is written differently (a time rounded, a record as an
array) the field's type carries the serializer (:data:`Seconds6`). Reading ignores keys a
model does not know (a later harness's fields within the same schema version); a
malformed value is refused with the path of the field.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import PlainSerializer, TypeAdapter, ValidationError

T = TypeVar("T")

#: A Unix time written with microseconds (the precision of the sources' own stamps).
Seconds6 = Annotated[float, PlainSerializer(lambda value: round(value, 6), return_type=float)]


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _adapter(kind: Any) -> TypeAdapter[Any]:
    """One adapter per type: building one walks the type's fields, so it is done once."""
    if kind not in _ADAPTERS:
        _ADAPTERS[kind] = TypeAdapter(kind)
    return _ADAPTERS[kind]


def to_data(value: Any, kind: Any = None) -> Any:
    """``value`` (a result model, or a list or dict of them) as JSON data: dicts, lists,
    strings, numbers, booleans and None. ``kind`` is its type where it is not the value's
    own class (a ``list[Kill]``, say)."""
    return _adapter(kind if kind is not None else type(value)).dump_python(value, mode="json")


def from_data(kind: type[T], data: Any) -> T:
    """``data`` (as :func:`to_data` wrote it) read back as ``kind``.

    Raises:
        ValueError: ``data`` does not have ``kind``'s shape; the message names the fields.
    """
    try:
        value: T = _adapter(kind).validate_python(data)
    except ValidationError as exc:
        raise ValueError("; ".join(problems(exc)[:3])) from exc
    return value


def problems(exc: ValidationError) -> list[str]:
    """One line per problem of a failed read, naming the field by its path
    (``runs.0.evidence.kills.0.t: ...``)."""
    return [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()]
