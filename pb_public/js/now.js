// "Now": the race FPVTrackside is running (or about to run), its pilots, laps as they arrive, positions, best laps;
// then the next race and who is in it.
import { channelChip, clock, h, pilotName, seconds, show } from "./dom.js";

const STATE_LABELS = { idle: "not started", armed: "armed", running: "running", ended: "finished" };

/**
 * One row per pilot of a race: laps in order, laps completed (the holeshot does not count), best lap, total time
 * and position. Positions come from FPVTrackside's results once it wrote them; during the race, more laps first,
 * then whoever completed that many laps earlier.
 */
export function raceRows(pilots, laps, results, channelOf) {
  const rows = pilots.map((entry) => {
    const own = laps.filter((lap) => lap.pilot === entry.pilot);
    const counted = own.filter((lap) => lap.valid && !lap.isHoleshot);
    const valid = own.filter((lap) => lap.valid);
    const lengths = counted.map((lap) => lap.lengthSeconds).filter((length) => length > 0);
    const result = results.find((r) => r.pilot === entry.pilot);
    return {
      id: entry.pilot,
      pilot: entry.expand?.pilot,
      channel: channelOf(entry.channel, entry.expand?.channel),
      laps: own,
      completed: counted.length,
      best: lengths.length ? Math.min(...lengths) : null,
      total: valid.reduce((sum, lap) => sum + (lap.lengthSeconds || 0), 0),
      lastEnd: valid.length ? valid[valid.length - 1].endTime : "",
      result,
    };
  });
  const live = [...rows].sort((a, b) =>
    b.completed - a.completed || (a.lastEnd || "~").localeCompare(b.lastEnd || "~") ||
    (a.channel?.frequency ?? 0) - (b.channel?.frequency ?? 0));
  live.forEach((row, index) => {
    row.position = row.result && row.result.position > 0 ? row.result.position : row.completed ? index + 1 : null;
  });
  const fastest = Math.min(...rows.map((row) => row.best ?? Infinity));
  rows.forEach((row) => { row.fastest = row.best !== null && row.best === fastest; });
  return live.sort((a, b) => (a.position ?? 99) - (b.position ?? 99) || 0);
}

function lapList(laps) {
  return laps.map((lap) => h("span", {
    class: ["lap", lap.valid ? "" : "invalid", lap.isHoleshot ? "holeshot" : ""].join(" ").trim(),
    "data-lap": lap.id,
    title: lap.isHoleshot ? "holeshot" : `lap ${lap.lapNumber}${lap.valid ? "" : " (invalid)"}`,
  }, lap.isHoleshot ? `HS ${seconds(lap.lengthSeconds)}` : seconds(lap.lengthSeconds)));
}

function raceHeader(label, race, stateName) {
  const state = STATE_LABELS[stateName] || stateName;
  return h("div", { class: "race-head" },
    h("span", { class: "label" }, label),
    h("h3", { class: "race-name" }, race.name || "Race"),
    state ? h("span", { class: "state", "data-state": stateName }, state) : null,
    race.start ? h("span", { class: "label" }, `started ${clock(race.start)}`) : null,
    race.targetLaps ? h("span", { class: "label" }, `${race.targetLaps} laps`) : null);
}

/** The race at hand: `data` = {race, state, pilots, laps, results} or null when the event has none. */
export function renderCurrent(container, data, channelOf) {
  if (!data) {
    show(container, h("p", { class: "empty" }, "No race yet: the race order is empty."));
    return;
  }
  const rows = raceRows(data.pilots, data.laps, data.results, channelOf);
  const table = h("div", { class: "table-wrap" }, h("table", { id: "current-table" },
    h("thead", {}, h("tr", {},
      h("th", { class: "num", scope: "col" }, "Pos"), h("th", { scope: "col" }, "Channel"),
      h("th", { scope: "col" }, "Pilot"), h("th", { class: "num", scope: "col" }, "Laps"),
      h("th", { class: "num", scope: "col" }, "Best"), h("th", { class: "num wide", scope: "col" }, "Time"))),
    h("tbody", {}, rows.map((row) => h("tr", { "data-pilot": row.id },
      h("td", { class: "num pos" }, row.position ?? ""),
      h("td", {}, channelChip(row.channel)),
      h("td", { class: "pilot" }, pilotName(row.pilot), h("div", { class: "laps" }, lapList(row.laps))),
      h("td", { class: "num" }, row.completed),
      h("td", { class: row.fastest ? "num best" : "num" }, seconds(row.best)),
      h("td", { class: "num wide" }, seconds(row.total)))))));
  show(container, h("div", { class: "race", id: "current", "data-race": data.race.id },
    raceHeader("Now", data.race, data.state),
    rows.length ? table : h("p", { class: "empty" }, "No pilots in this race yet.")));
}

/** The next race and who is in it: `data` = {race, pilots} or null. */
export function renderNext(container, data, channelOf) {
  if (!data) {
    show(container, h("div", { class: "race", id: "next" }, h("span", { class: "label" }, "Next"),
      h("p", { class: "empty" }, "No race scheduled after this one.")));
    return;
  }
  const pilots = [...data.pilots].sort((a, b) =>
    (channelOf(a.channel, a.expand?.channel)?.frequency ?? 0) - (channelOf(b.channel, b.expand?.channel)?.frequency ?? 0));
  show(container, h("div", { class: "race", id: "next", "data-race": data.race.id },
    raceHeader("Next", data.race, ""),
    pilots.length
      ? h("div", { class: "table-wrap" }, h("table", {},
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Channel"), h("th", { scope: "col" }, "Pilot"))),
        h("tbody", {}, pilots.map((entry) => h("tr", { "data-pilot": entry.pilot },
          h("td", {}, channelChip(channelOf(entry.channel, entry.expand?.channel))),
          h("td", {}, pilotName(entry.expand?.pilot)))))))
      : h("p", { class: "empty" }, "Pilots not assigned yet.")));
}
