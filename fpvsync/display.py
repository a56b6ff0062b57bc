"""Human names for records whose source has none, so that the PocketBase dashboard shows "Round 3", "R1" or
"lap 3 · 12.345 s" where it would otherwise show an id or "N/A".

Each follows what FPVTrackside itself shows on screen (``Round.ToString()``, ``Channel.GetBandChannelText()``).
Pure functions of the models; :mod:`fpvsync.mapping` stores their results in presentable fields.
"""

from __future__ import annotations

from fpvsync.trackside.models import Channel, Detection, Round


def round_name(model: Round) -> str:
    """The round's own name, else FPVTrackside's ``"<EventType> Round <RoundNumber>"`` (``"Race Round 3"``)."""
    if model.name:
        return model.name
    number = model.round_number if model.round_number is not None else "?"
    return f"{model.event_type or 'Race'} Round {number}"


def channel_name(model: Channel) -> str:
    """FPVTrackside's short band-and-channel text: ``"R1"``, ``"F4"``, ``"ZL3"`` style; ``"--"`` without a band.

    The band's first letter (``Z`` for HDZero), the channel prefix if any, then the channel number; HDZero's low
    band reads as plain ``L1``-``L8`` like the goggle menus.
    """
    band = model.band or ""
    if not band or band == "None":
        return "--"
    number = "" if model.number is None else str(model.number)
    prefix = model.channel_prefix or ""
    if band == "HDZero" and prefix == "L":
        return f"L{number}"
    letter = "Z" if band == "HDZero" else band[0]
    return f"{letter}{prefix}{number}"


def detection_name(model: Detection, lap_seconds: float | None) -> str:
    """``"lap 3 · 12.345 s"``: the lap this detection ends and, when it ends one, that lap's length."""
    number = model.lap_number if model.lap_number is not None else "?"
    if lap_seconds is None:
        return f"lap {number}"
    return f"lap {number} · {lap_seconds:.3f} s"
