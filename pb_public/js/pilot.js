// "Pilots": one pilot's next race, bests, and every race they were put in with its laps and result.
import { channelChip, h, pilotName, seconds, show } from "./dom.js";

/** Fill the pilot picker (keeps the current choice); `pilots` are pilot records. */
export function renderPicker(select, pilots, chosen, onPick) {
  const sorted = [...pilots].sort((a, b) => pilotName(a).localeCompare(pilotName(b)));
  select.replaceChildren(h("option", { value: "" }, "Choose a pilot…"),
    ...sorted.map((p) => h("option", { value: p.id, selected: p.id === chosen }, pilotName(p))));
  select.onchange = () => onPick(select.value);
}

function card(label, value, extra) {
  return h("div", { class: "card" }, h("span", { class: "label" }, label), h("strong", {}, value || "–"), extra);
}

/**
 * `data` = {pilot, schedule, bests, entries, laps, results, order, event}: schedule is a pilotSchedule row, `null`
 * (no race to come) or `undefined` (this server has no schedule view: the next race is then taken from the race
 * order and the pilot's races).
 */
export function renderPilot(container, data, channelOf) {
  if (!data) {
    show(container, h("p", { class: "empty" }, "Choose a pilot to see their races."));
    return;
  }
  const position = new Map(data.order.map((row) => [row.id, row]));
  let next = null;
  if (data.schedule) {
    const row = position.get(data.schedule.nextRace);
    next = { name: row?.name || data.schedule.expand?.nextRace?.name, racesUntil: data.schedule.racesUntil };
  } else if (data.schedule === undefined) {
    const mine = new Set(data.entries.map((e) => e.race));
    const upcoming = data.order.filter((row) => row.valid && row.state === "unstarted" && mine.has(row.id));
    if (upcoming.length) next = { name: upcoming[0].name, racesUntil: null };
  }
  const b = data.bests;
  const cards = h("div", { class: "cards" },
    card("Next race", next?.name || "none",
      next && Number.isInteger(next.racesUntil) ? h("span", {}, `${next.racesUntil} races before`) : null),
    card("Fastest lap", seconds(b?.fastestLap)),
    card(b?.consecutiveLaps ? `Fastest ${b.consecutiveLaps} laps` : "Consecutive", seconds(b?.fastestConsecutive)),
    card("Holeshot", seconds(b?.fastestHoleshot)),
    card("Race time", seconds(b?.bestRaceTime)),
    card("Races flown", String(b?.racesFlown ?? 0)));

  const entries = [...data.entries].sort((x, y) =>
    (position.get(x.race)?.position ?? 1e9) - (position.get(y.race)?.position ?? 1e9));
  const rows = entries.map((entry) => {
    const race = position.get(entry.race);
    const laps = data.laps.filter((lap) => lap.race === entry.race);
    const counted = laps.filter((lap) => lap.valid && !lap.isHoleshot && lap.lengthSeconds > 0);
    const result = data.results.find((r) => r.race === entry.race);
    return h("tr", { "data-race": entry.race },
      h("td", {}, race?.name || "?"),
      h("td", {}, channelChip(channelOf(entry.channel, entry.expand?.channel))),
      h("td", { class: "num" }, result?.position || ""),
      h("td", { class: "num" }, result ? result.points : ""),
      h("td", { class: "num" }, seconds(counted.length ? Math.min(...counted.map((l) => l.lengthSeconds)) : null)),
      h("td", { class: "laps" }, laps.map((lap) => h("span", { class: lap.valid ? "lap" : "lap invalid" },
        lap.isHoleshot ? `HS ${seconds(lap.lengthSeconds)}` : seconds(lap.lengthSeconds)))));
  });
  show(container, h("section", { id: "pilot-detail", "data-pilot": data.pilot.id },
    h("h3", {}, pilotName(data.pilot)), cards,
    h("h3", {}, "Races"),
    rows.length
      ? h("div", { class: "table-wrap" }, h("table", {},
        h("thead", {}, h("tr", {}, ["Race", "Channel", "Pos", "Points", "Best", "Laps"].map((label, i) =>
          h("th", { scope: "col", class: i >= 2 && i <= 4 ? "num" : null }, label)))),
        h("tbody", {}, rows)))
      : h("p", { class: "empty" }, "Not in any race yet.")));
}
