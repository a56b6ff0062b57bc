"""Hypothesis strategies for FPVTrackside JSON: arbitrary JSON values, and documents of a model's shape."""

from __future__ import annotations

from typing import Any, get_args

from hypothesis import strategies as st

from fpvsync.trackside.models import GUID_ZERO, TracksideModel

# Strings the source really sends (and near misses), so that generated documents also exercise the happy paths.
source_like_strings = st.sampled_from(
    [
        "",
        " ",
        "\u0000",
        GUID_ZERO,
        GUID_ZERO.upper(),
        "5A1E7D1C-63B5-4A6E-BB22-7A3F3C9D2E11",
        "00000009-0000-0000-0000-000000000000",
        "0001/01/01 0:00:00",
        "2025/01/30 16:00:57.85",
        "2025/05/03 14:39:20.325",
        "2025/13/45 x",
        "2025-05-03T14:39:20.3250000+02:00",
        "00:08:31.5605717",
        "1.02:03:04",
        "-00:00:01.5",
        "24:00:00",
        "Practise",
        "AggregateLaps",
        "SharkByte",
        "LapRF8Way",
        "EndOfLap",
        'Zoë "Zippy" O\'Brien \\ 🚁',
    ]
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | source_like_strings
)

# Any value json.loads can return (it accepts NaN and Infinity, so they are included).
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=10,
)


def json_keys(model: type[TracksideModel]) -> list[str]:
    """The JSON keys a model knows (its aliases)."""
    return [info.alias or name for name, info in model.model_fields.items()]


def _nested_model(annotation: Any) -> type[TracksideModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, TracksideModel):
        return annotation
    for arg in get_args(annotation):
        found = _nested_model(arg)
        if found is not None:
            return found
    return None


def documents(model: type[TracksideModel]) -> st.SearchStrategy[dict[str, Any]]:
    """A JSON object with any subset of ``model``'s keys holding arbitrary JSON values, plus unknown keys.

    Keys holding lists of objects also get lists mixing documents of the nested model with arbitrary values.
    """
    values: dict[str, st.SearchStrategy[Any]] = {}
    for name, info in model.model_fields.items():
        nested = _nested_model(info.annotation)
        strategy = json_values
        if nested is not None:
            strategy = strategy | st.lists(documents(nested) | json_values, max_size=3)
        values[info.alias or name] = strategy
    known = st.fixed_dictionaries({}, optional=values)
    unknown = st.dictionaries(st.text(min_size=1, max_size=10), json_values, max_size=3)
    return st.builds(lambda unknown_keys, known_keys: {**unknown_keys, **known_keys}, unknown, known)
