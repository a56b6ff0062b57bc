"""Names for people instead of GUIDs: ``Race 3-2 (Round 3)``, a pilot's name, the event's name.

The engine notes the names of what it reads in :attr:`fpvsync.summary.SyncSummary.names` (GUID → name); the CLI
shows messages through :func:`humanize`, and the GUIDs themselves only with ``-v``. JSON keeps the GUIDs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, MutableMapping

from fpvsync.trackside.models import Event, Pilot, Race, Round

#: Longest name shown in a message (a pilot's name may be anything FPVTrackside accepted).
MAX_NAME = 60
_GUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")


def round_name(round_: Round) -> str | None:
    if round_.name:
        return round_.name
    return f"Round {round_.round_number}" if round_.round_number is not None else None


def race_name(race: Race, round_: Round | None) -> str | None:
    """``Race 3-2 (Round 3)``: round number and race number, then the round's name."""
    if race.race_number is None:
        return None
    number = race.race_number
    if round_ is None or round_.round_number is None:
        return f"Race {number}"
    label = round_name(round_) or f"Round {round_.round_number}"
    return f"Race {round_.round_number}-{number} ({label})"


def learn_event(
    names: MutableMapping[str, str], event: Event | None, pilots: Iterable[Pilot], rounds: Iterable[Round]
) -> None:
    """Note the names of the event, its pilots and rounds."""
    if event is not None and event.id and event.name:
        names[event.id.lower()] = event.name
    for pilot in pilots:
        if pilot.id and pilot.name:
            names[pilot.id.lower()] = pilot.name
    for round_ in rounds:
        label = round_name(round_)
        if round_.id and label:
            names[round_.id.lower()] = label


def learn_race(names: MutableMapping[str, str], race: Race, round_: Round | None) -> None:
    label = race_name(race, round_)
    if race.id and label:
        names[race.id.lower()] = label


def humanize(text: str, names: Mapping[str, str], *, with_ids: bool = False) -> str:
    """``text`` with every GUID it names replaced by its name (``with_ids``: ``name (GUID)``)."""
    if not names:
        return text

    def replace(match: re.Match[str]) -> str:
        guid = match.group(0)
        name = names.get(guid.lower())
        if name is None:
            return guid
        if len(name) > MAX_NAME:
            name = name[: MAX_NAME - 1] + "…"
        return f"{name} ({guid})" if with_ids else name

    return _GUID.sub(replace, text)
