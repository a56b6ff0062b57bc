"""How FPVTrackside names and types a race, and the small conversions its files need: pure functions, no I/O.

The C# in FPVTracksideCore is the authority; each rule names the code it follows.

- A race's **round** (``RaceLib/Race.cs`` ``Race.RoundNumber``, ``Race.Type``; ``DB/JSON/Race.cs``
  ``Race.GetRaceLibObject``): a race whose ``Round`` is the zero GUID, or an invalid race whose round is missing
  from ``Rounds.json``, has no round: it is round 1 and takes the event's type. A *valid* race whose round is
  missing from ``Rounds.json`` gets a new round with that GUID, type ``Unknown``, numbered one past the highest
  ``RoundNumber`` of the event's rounds. fpvsync does not invent that round's record: the race's ``round``
  relation stays empty (the GUID is kept in ``extra.unresolved.Round``), and the race's own ``roundNumber`` and
  ``eventType`` fields carry what FPVTrackside shows. When several rounds are missing, FPVTrackside numbers them
  in the order it loads the races; fpvsync gives each of them the same number (max + 1).
- A race's **name** (``Race.RaceName``): ``RaceStringFormatter.GetEventTypeText(Type)`` + " " +
  ``RoundNumber-RaceNumber``, followed by " (Bracket)" unless the bracket is ``None``. The type texts are the
  English ones FPVTrackside's UI sets (``UI/EventLayer.cs``); a ``Game`` race is named by the event's game type
  when it has one (``GameManager.GameType.Name``); any other type reads "Unknown".
- A **bracket** of ``None`` (``Race.Brackets.None``) is stored empty: no bracket.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from fpvsync.trackside.models import Race, Round

__all__ = ["EVENT_TYPE_TEXT", "UNKNOWN_TYPE", "RaceRound", "bracket", "event_type_text", "race_name", "race_round"]

#: ``RaceStringFormatter.GetEventTypeText``'s texts, as FPVTrackside's UI sets them (``UI/EventLayer.cs``).
EVENT_TYPE_TEXT: Final[Mapping[str, str]] = {
    "Practice": "Practice",
    "TimeTrial": "Time Trial",
    "Race": "Race",
    "Freestyle": "Freestyle",
    "Endurance": "Endurance",
    "CasualPractice": "Casual Practice",
    "Game": "Game",
    "Training": "Training",
}
#: The type (and its text) of a round FPVTrackside makes up for a race whose round is missing.
UNKNOWN_TYPE: Final = "Unknown"


@dataclass(frozen=True)
class RaceRound:
    """The round a race belongs to, as FPVTrackside sees it."""

    #: ``Race.RoundNumber``.
    number: int | None
    #: ``Race.Type``: the round's ``EventType``, else the event's; ``Unknown`` for a made-up round.
    event_type: str | None
    #: The round's GUID when ``Rounds.json`` has it (the race's ``round`` relation).
    round_id: str | None
    #: True when FPVTrackside made the round up (``GetRaceLibObject``): its GUID is missing from ``Rounds.json``.
    unknown: bool = False


def race_round(model: Race, rounds: Mapping[str, Round] | None, event_type: str | None) -> RaceRound:
    """The race's round number and type (see the module docstring).

    ``rounds`` is the event's ``Rounds.json`` by GUID, ``None`` when it could not be read (then a round missing
    from it cannot be told apart from an unreadable one, and the round number stays unknown).
    """
    guid = model.round
    if not guid:
        return RaceRound(1, event_type, None)
    if rounds is None:
        return RaceRound(None, event_type, None)
    found = rounds.get(guid)
    if found is not None:
        return RaceRound(found.round_number, found.event_type or event_type, guid)
    if model.valid is not True:
        return RaceRound(1, event_type, None)
    highest = max((r.round_number or 0 for r in rounds.values()), default=0)
    return RaceRound(highest + 1, UNKNOWN_TYPE, None, unknown=True)


def event_type_text(event_type: str | None, game_type_name: str | None = None) -> str:
    """``RaceStringFormatter.GetEventTypeText``: "Time Trial" for ``TimeTrial``, the game's name for ``Game``."""
    if event_type == "Game" and game_type_name:
        return game_type_name
    return EVENT_TYPE_TEXT.get(event_type or "", UNKNOWN_TYPE)


def bracket(value: str | None) -> str:
    """The race's bracket, ``""`` for ``None`` (no bracket)."""
    return "" if not value or value == "None" else value


def race_name(
    event_type: str | None,
    round_number: int | None,
    race_number: int | None,
    race_bracket: str | None = None,
    game_type_name: str | None = None,
) -> str:
    """``Race.RaceName``: ``"Race 2-3"``, ``"Time Trial 1-1"``, ``"Race 5-2 (A)"``. An unknown number reads "?"."""
    rounds = round_number if round_number is not None else "?"
    races = race_number if race_number is not None else "?"
    name = f"{event_type_text(event_type, game_type_name)} {rounds}-{races}"
    shown = bracket(race_bracket)
    return f"{name} ({shown})" if shown else name
