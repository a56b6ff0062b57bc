// "Leaderboard": the stage standings and one round's (points, from FPVTrackside's results) and every pilot's bests,
// each sortable.
// Which comes first, and how bests are sorted, follows the event's type: points for races, lap times otherwise.
import { h, pilotName, seconds, show, sortableTable } from "./dom.js";

const BEST_SORT = {
  Race: { key: "fastestLap", dir: "asc" },
  TimeTrial: { key: "fastestConsecutive", dir: "asc" },
  Endurance: { key: "validLaps", dir: "desc" },
};

let chosenStage = null; // the stage a user picked stays picked across live updates

/**
 * `data` = {event, stages, standings, bests, currentStage, rounds, round, roundRows, onRound}: standings are
 * stageLeaderboard rows (stage "" = rounds without a stage), bests are pilotBests rows, roundRows the leaderboard
 * rows of the round `round` (picking another calls `onRound(id)`).
 */
export function renderStandings(container, data) {
  const byStage = new Map();
  for (const row of data.standings) {
    if (!byStage.has(row.stage)) byStage.set(row.stage, []);
    byStage.get(row.stage).push(row);
  }
  const choices = [...data.stages.filter((s) => byStage.has(s.id)).map((s) => ({ id: s.id, name: s.name || "Stage" }))];
  if (byStage.has("")) choices.push({ id: "", name: data.stages.length ? "Without a stage" : "Event" });
  if (chosenStage === null || !byStage.has(chosenStage)) {
    chosenStage = byStage.has(data.currentStage) ? data.currentStage : choices.length ? choices[choices.length - 1].id : "";
  }
  const picker = choices.length > 1
    ? h("label", { class: "picker" }, "Stage ",
      h("select", {
        id: "stage-select",
        onchange: (event) => { chosenStage = event.target.value; renderStandings(container, data); },
      }, choices.map((c) => h("option", { value: c.id, selected: c.id === chosenStage }, c.name))))
    : null;

  const standings = h("section", { id: "points" }, h("h3", {}, "Standings"), picker,
    byStage.has(chosenStage)
      ? sortableTable("standings-table", [
        { key: "position", label: "Pos", num: true, value: (r) => r.position },
        { key: "pilot", label: "Pilot", value: (r) => pilotName(r.expand?.pilot) },
        { key: "points", label: "Points", num: true, value: (r) => r.points },
        { key: "races", label: "Races", num: true, value: (r) => r.races },
        { key: "wins", label: "Wins", num: true, value: (r) => r.wins },
        { key: "bestPosition", label: "Best", num: true, value: (r) => r.bestPosition || null },
        { key: "dnfs", label: "DNF", num: true, value: (r) => r.dnfs },
      ], byStage.get(chosenStage), { key: "position", dir: "asc" })
      : h("p", { class: "empty" }, "No results yet."));

  const roundPicker = data.rounds.length > 1
    ? h("label", { class: "picker" }, "Round ",
      h("select", { id: "round-select", onchange: (event) => data.onRound(event.target.value) },
        data.rounds.map((r) => h("option", { value: r.id, selected: r.id === data.round }, roundName(r)))))
    : null;
  const round = h("section", { id: "round-points" }, h("h3", {}, "Round points"), roundPicker,
    data.roundRows.length
      ? sortableTable("round-table", [
        { key: "position", label: "Pos", num: true, value: (r) => r.position },
        { key: "pilot", label: "Pilot", value: (r) => pilotName(r.expand?.pilot) },
        { key: "points", label: "Points", num: true, value: (r) => r.points },
        { key: "races", label: "Races", num: true, value: (r) => r.races },
        { key: "wins", label: "Wins", num: true, value: (r) => r.wins },
        { key: "bestPosition", label: "Best", num: true, value: (r) => r.bestPosition || null },
      ], data.roundRows, { key: "position", dir: "asc" })
      : h("p", { class: "empty" }, "No results in this round yet."));

  const laps = data.event.pbLaps || 0;
  const bests = h("section", { id: "bests" }, h("h3", {}, "Pilot bests"),
    data.bests.length
      ? sortableTable("bests-table", [
        { key: "pilot", label: "Pilot", value: (r) => pilotName(r.expand?.pilot) },
        { key: "fastestLap", label: "Lap", num: true, value: (r) => r.fastestLap || null, cell: (r) => seconds(r.fastestLap) },
        { key: "fastestConsecutive", label: laps ? `${laps} laps` : "Consecutive", num: true,
          value: (r) => r.fastestConsecutive || null, cell: (r) => seconds(r.fastestConsecutive) },
        { key: "fastestHoleshot", label: "Holeshot", num: true,
          value: (r) => r.fastestHoleshot || null, cell: (r) => seconds(r.fastestHoleshot) },
        { key: "bestRaceTime", label: "Race time", num: true,
          value: (r) => r.bestRaceTime || null, cell: (r) => seconds(r.bestRaceTime) },
        { key: "racesFlown", label: "Races", num: true, value: (r) => r.racesFlown },
        { key: "validLaps", label: "Laps", num: true, value: (r) => r.validLaps },
      ], data.bests, BEST_SORT[data.event.eventType] || { key: "fastestLap", dir: "asc" })
      : h("p", { class: "empty" }, "No laps yet."));

  const pointsFirst = !data.event.eventType || data.event.eventType === "Race";
  show(container, pointsFirst ? [standings, round, bests] : [bests, standings, round]);
}

/** A round as FPVTrackside names it: its own name, else its type and number ("Race 2"). */
export function roundName(round) {
  return round.name || `${round.eventType || "Round"} ${round.roundNumber ?? ""}`.trim();
}
