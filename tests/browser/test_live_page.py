"""The live page in ``pb_public/``, in a real headless Chromium, against a real PocketBase that serves it and an event
mirrored by the real engine from fpvsync's replay server. What a spectator sees: the running race and the next one,
laps arriving without a reload, the leaderboard reordering, a pilot's races, "offline" while the server is down."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import httpx
from playwright.sync_api import expect

from fpvsync.ids import record_id
from tests.browser.conftest import MEASURED, WAIT_MS, LiveEvent, PageWatch
from tests.conftest import RunningPocketBase
from tests.sync_helpers import read
from tests.test_event_state import add_lap

#: Records every lap element the moment it first appears (browser clock), so delays are measured in the page.
LAP_WATCH = """() => {
  window.lapSeen = {};
  const mark = () => {
    for (const node of document.querySelectorAll("[data-lap]")) {
      if (!(node.dataset.lap in window.lapSeen)) window.lapSeen[node.dataset.lap] = Date.now();
    }
  };
  mark();
  new MutationObserver(mark).observe(document.body, { subtree: true, childList: true });
}"""


def pb_millis(value: str) -> float:
    """A PocketBase date (``2026-01-01 10:00:00.123Z``) as milliseconds since the epoch."""
    return datetime.fromisoformat(value.replace(" ", "T").replace("Z", "+00:00")).timestamp() * 1000


def open_page(tab: PageWatch, pb: RunningPocketBase, view: str = "now") -> None:
    tab.page.goto(f"{pb.url}/#{view}")
    expect(tab.page.locator("#connection")).to_have_text("live")


def race_pilot_names(live: LiveEvent, race: str) -> set[str]:
    entries = live.pb.records("pilotChannels", f'race = "{race}"')
    return {str(live.one("pilots", str(entry["pilot"]))["name"]) for entry in entries}


def test_pocketbase_serves_the_page_and_its_vendored_sdk_at_the_root(pb: RunningPocketBase) -> None:
    page = httpx.get(f"{pb.url}/")
    assert page.status_code == 200 and '<script type="module" src="js/main.js">' in page.text
    sdk = httpx.get(f"{pb.url}/vendor/pocketbase/pocketbase.es.mjs")
    assert sdk.status_code == 200 and "javascript" in sdk.headers["content-type"]


def test_the_page_shows_the_running_race_its_pilots_and_the_next_race(tab: PageWatch, live: LiveEvent) -> None:
    live.full()
    assert live.event.running_race_id is not None
    running = record_id(live.event.running_race_id)
    state = live.one("eventState", record_id(live.event.event_id))
    open_page(tab, live.pb)

    current = tab.page.locator("#current")
    expect(current).to_have_attribute("data-race", running)
    expect(current.locator(".race-name")).to_have_text(str(live.one("races", running)["name"]))
    expect(current.locator(".state")).to_have_text("running")
    shown = set(current.locator("td.pilot").evaluate_all("cells => cells.map(c => c.firstChild.textContent)"))
    assert shown == race_pilot_names(live, running)
    # Each pilot's channel as the event shows it: the event's display name and colour.
    channels = {info["channel"]: info for info in live.one("events", record_id(live.event.event_id))["channelInfo"]}
    for entry in live.pb.records("pilotChannels", f'race = "{running}"'):
        chip = current.locator(f'tr[data-pilot="{entry["pilot"]}"] .channel')
        expect(chip).to_have_text(channels[entry["channel"]]["displayName"])
        assert channels[entry["channel"]]["color"].lower() in (chip.get_attribute("style") or "").lower()

    following = tab.page.locator("#next")
    expect(following).to_have_attribute("data-race", str(state["nextRace"]))
    expect(following.locator(".race-name")).to_have_text(str(live.one("races", str(state["nextRace"]))["name"]))
    assert following.locator("tbody tr").count() == len(race_pilot_names(live, str(state["nextRace"])))
    assert tab.errors == []


def test_a_lap_added_at_the_source_appears_without_a_reload(tab: PageWatch, live: LiveEvent) -> None:
    live.full()
    assert live.event.running_race_id is not None
    open_page(tab, live.pb)
    expect(tab.page.locator("#current td.pilot").first).to_be_visible()
    tab.page.evaluate("() => { window.notReloaded = true; }")
    tab.page.evaluate(LAP_WATCH)

    delays = []
    for n in (1, 2):
        lap = record_id(add_lap(live.event, live.event.running_race_id, n))
        assert live.poll() > 0
        lap_on_page = tab.page.locator(f'#current [data-lap="{lap}"]')
        expect(lap_on_page).to_be_visible(timeout=WAIT_MS)
        record = live.one("laps", lap)
        expect(lap_on_page).to_have_text(f"{float(record['lengthSeconds']):.3f}")
        seen = tab.page.evaluate("(id) => window.lapSeen[id]", lap)
        delays.append(seen - pb_millis(str(record["created"])))
    assert tab.page.evaluate("() => window.notReloaded") is True
    MEASURED["lap record written → shown on the page"] = ", ".join(f"{d:.0f} ms" for d in delays)
    assert tab.errors == []


def _result_to_raise(live: LiveEvent, stage: str) -> tuple[dict[str, Any], str]:
    """A race result of the pilot last in ``stage``'s standings, and that pilot's name."""
    event = record_id(live.event.event_id)
    standings = live.pb.records("stageLeaderboard", f'event = "{event}" && stage = "{stage}"')
    last = max(standings, key=lambda row: (int(row["position"]), str(row["id"])))
    rounds = {str(r["id"]) for r in live.pb.records("rounds", f'event = "{event}" && stage = "{stage}"')}
    results = live.pb.records("results", f'event = "{event}" && pilot = "{last["pilot"]}" && race != ""')
    result = next(r for r in results if r["round"] in rounds and r["valid"])
    return result, str(live.one("pilots", str(last["pilot"]))["name"])


def test_the_leaderboard_reorders_when_a_result_changes(tab: PageWatch, live: LiveEvent) -> None:
    live.full()
    open_page(tab, live.pb, "standings")
    table = tab.page.locator("#standings-table")
    expect(table.locator("tbody tr").first).to_be_visible()
    tab.page.evaluate("() => { window.notReloaded = true; }")
    stage = tab.page.locator("#stage-select").input_value() if tab.page.locator("#stage-select").count() else ""
    result, name = _result_to_raise(live, stage)
    assert table.locator("tbody tr").first.locator("td").nth(1).inner_text() != name
    tab.page.locator("#round-select").select_option(str(result["round"]))
    round_table = tab.page.locator("#round-table")
    expect(round_table.locator("tbody tr").first).to_be_visible()
    assert round_table.locator("tbody tr").first.locator("td").nth(1).inner_text() != name

    race = live.one("races", str(result["race"]))
    path = live.event.result_file(str(race["sourceId"]))
    entries = read(path)
    for entry in entries:
        if entry["ID"] == result["sourceId"]:
            entry["Points"] = 999
    path.write_text(json.dumps(entries))
    assert live.poll(str(race["sourceId"])) > 0

    first = table.locator("tbody tr").first
    expect(first.locator("td").nth(1)).to_have_text(name)
    expect(first.locator("td").nth(0)).to_have_text("1")
    # The round's own points table follows too, still on the round picked.
    expect(tab.page.locator("#round-select")).to_have_value(str(result["round"]))
    expect(round_table.locator("tbody tr").first.locator("td").nth(1)).to_have_text(name)
    assert tab.page.evaluate("() => window.notReloaded") is True
    assert tab.errors == []


def test_each_leaderboard_sorts_by_any_column(tab: PageWatch, live: LiveEvent) -> None:
    live.full()
    open_page(tab, live.pb, "standings")
    bests = tab.page.locator("#bests-table")
    expect(bests.locator("tbody tr").first).to_be_visible()

    def column(index: int) -> list[str]:
        return [text.strip() for text in bests.locator(f"tbody tr td:nth-child({index})").all_inner_texts()]

    header = bests.locator("th", has_text=re.compile("^Laps$"))
    header.locator("button").click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    laps = [int(value) for value in column(7)]
    assert laps == sorted(laps)
    header.locator("button").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    assert [int(value) for value in column(7)] == sorted(laps, reverse=True)

    pilot = bests.locator("th", has_text="Pilot")
    pilot.locator("button").click()
    expect(pilot).to_have_attribute("aria-sort", "ascending")
    names = column(1)
    # Names sort as people read them (the browser's collation: accents, other scripts, emoji), not by code point.
    collated = tab.page.evaluate(
        "(names) => [...names].sort(new Intl.Collator(undefined, {sensitivity: 'base'}).compare)", names
    )
    assert names == collated and len(set(names)) > 5
    assert tab.errors == []


def test_the_pilot_view_lists_a_pilots_races_and_their_next_race(tab: PageWatch, live: LiveEvent) -> None:
    live.full()
    event = record_id(live.event.event_id)
    order = sorted(live.pb.records("raceOrder", f'event = "{event}"'), key=lambda row: int(row["position"]))
    unstarted = [row for row in order if row["valid"] and row["state"] == "unstarted"]
    pilot = next(str(e["pilot"]) for e in live.pb.records("pilotChannels", f'race = "{unstarted[-1]["id"]}"'))
    mine = {str(e["race"]) for e in live.pb.records("pilotChannels", f'pilot = "{pilot}" && race != ""')}
    next_race = next(row for row in unstarted if row["id"] in mine)

    open_page(tab, live.pb, "pilot")
    tab.page.locator("#pilot-select").select_option(pilot)
    detail = tab.page.locator("#pilot-detail")
    expect(detail).to_have_attribute("data-pilot", pilot)
    expect(detail.locator("h3").first).to_have_text(str(live.one("pilots", pilot)["name"]))
    expect(detail.locator(".card", has_text="Next race").locator("strong")).to_have_text(str(next_race["name"]))
    shown = set(detail.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.race)"))
    assert shown == mine
    # The schedule view may not exist on this server yet: its 404 is expected then, and handled.
    schedule_missing = httpx.get(f"{live.pb.url}/api/collections/pilotSchedule/records").status_code == 404
    unexpected = [e for e in tab.errors if not (schedule_missing and "404" in e)]
    assert unexpected == []


def test_an_empty_database_waits_for_the_first_sync_then_shows_it(tab: PageWatch, live: LiveEvent) -> None:
    open_page(tab, live.pb)
    expect(tab.page.locator("#notice")).to_have_text("No event has been mirrored here yet.")
    live.full()
    expect(tab.page.locator("#current .race-name")).not_to_be_empty()
    expect(tab.page.locator("#notice")).to_be_hidden()
    assert tab.errors == []


def test_the_page_says_offline_while_pocketbase_is_down_and_recovers_by_itself(tab: PageWatch, live: LiveEvent) -> None:
    live.full()
    assert live.event.running_race_id is not None
    open_page(tab, live.pb)
    badge = tab.page.locator("#connection")

    live.pb.server.stop()
    expect(badge).to_have_text("offline")
    expect(badge).to_have_attribute("data-state", "offline")
    live.pb.server.start()  # the same data directory on the same port
    expect(badge).to_have_text("live")

    # The subscriptions came back with the connection: a new lap still arrives without a reload.
    lap = record_id(add_lap(live.event, live.event.running_race_id, 3))
    assert live.poll() > 0
    expect(tab.page.locator(f'#current [data-lap="{lap}"]')).to_be_visible()


def test_page_basics_no_console_errors_no_external_requests_and_its_weight(tab: PageWatch, live: LiveEvent) -> None:
    live.full()
    weights: dict[str, int] = {}

    def weigh(response: Any) -> None:
        if response.url.startswith(live.pb.url) and "/api/" not in response.url:
            weights[response.url] = len(response.body())

    tab.page.on("response", weigh)
    open_page(tab, live.pb)
    expect(tab.page.locator("#current td.pilot").first).to_be_visible()
    for view in ("standings", "now"):
        tab.page.locator(f'.tabs a[data-view="{view}"]').click()
        expect(tab.page.locator(f"#view-{view}")).to_be_visible()
    expect(tab.page.locator("#bests-table")).to_be_attached()

    assert tab.errors == []
    outside = [url for url in tab.requests if not url.startswith((live.pb.url, "data:"))]
    assert outside == []
    total = sum(weights.values())
    assert {"/", "/style.css", "/js/main.js", "/vendor/pocketbase/pocketbase.es.mjs"} <= {
        url.removeprefix(live.pb.url) for url in weights
    }
    assert total < 120_000, weights  # the page and the SDK, uncompressed; no framework, no fonts
    MEASURED["page weight (uncompressed, without API data)"] = f"{total / 1024:.1f} KiB in {len(weights)} files"


#: The lowest contrast ratio (WCAG 2) of any visible text against the background it sits on.
MIN_CONTRAST = """() => {
  const luminance = (rgb) => {
    const [r, g, b] = rgb.map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const parse = (css) => css.match(/[\\d.]+/g).map(Number);
  const background = (node) => {
    for (; node; node = node.parentElement) {
      const value = parse(getComputedStyle(node).backgroundColor);
      if (value.length < 4 || value[3] > 0) return value.slice(0, 3);
    }
    return [255, 255, 255];
  };
  let lowest = { ratio: 99, text: "" };
  for (const node of document.querySelectorAll("body *")) {
    const text = [...node.childNodes].filter((c) => c.nodeType === 3).map((c) => c.textContent.trim()).join("");
    if (!text || !node.getClientRects().length || getComputedStyle(node).visibility === "hidden") continue;
    const [a, b] = [luminance(parse(getComputedStyle(node).color).slice(0, 3)), luminance(background(node))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < lowest.ratio) lowest = { ratio, text };
  }
  return lowest;
}"""


def test_the_page_fits_a_phone_and_its_text_keeps_a_high_contrast(tab: PageWatch, live: LiveEvent) -> None:
    live.full()
    tab.page.set_viewport_size({"width": 360, "height": 740})
    lowest = 99.0
    for view in ("now", "standings", "pilot"):
        open_page(tab, live.pb, view)
        expect(tab.page.locator(f"#view-{view} :is(tbody tr, select)").first).to_be_visible()
        # Wide tables scroll inside their box; the page itself never scrolls sideways.
        assert tab.page.evaluate("() => document.documentElement.scrollWidth") <= 360, view
        found = tab.page.evaluate(MIN_CONTRAST)
        assert found["ratio"] >= 4.5, found  # WCAG AA for body text, everywhere, including the badges
        lowest = min(lowest, found["ratio"])
    live.pb.server.stop()
    expect(tab.page.locator("#connection")).to_have_text("offline")
    assert tab.page.evaluate(MIN_CONTRAST)["ratio"] >= 4.5
    MEASURED["lowest text contrast (WCAG ratio, 360 px wide)"] = f"{lowest:.1f}:1"


def test_the_document_has_what_browsers_and_screen_readers_expect(tab: PageWatch, live: LiveEvent) -> None:
    live.full()
    open_page(tab, live.pb)
    page = tab.page
    assert page.get_attribute("html", "lang") == "en"
    assert "width=device-width" in (page.get_attribute('meta[name="viewport"]', "content") or "")
    expect(page).to_have_title(re.compile(r".+ · live timing$"))
    assert page.locator("h1").count() == 1
    assert page.locator("img:not([alt])").count() == 0
    # Every column header of the leaderboards is a real button (keyboard and screen readers can sort).
    page.locator('.tabs a[data-view="standings"]').click()
    headers = page.locator("#view-standings th")
    expect(headers.first).to_be_visible()
    assert headers.count() == page.locator("#view-standings th > button").count()
