// The live page: picks the event, reads what the visible view needs, and re-reads when PocketBase says something
// changed. PocketBase views send no realtime events, so the page follows `eventState` (its `changeSeq` moves in
// every sync run that wrote anything for the event) and, for the lowest latency, the laps of the running race.
import * as api from "./api.js";
import { h, show } from "./dom.js";
import { coalesced, retargetable, setConnection, watchConnection } from "./live.js";
import { renderCurrent, renderNext } from "./now.js";
import { renderPicker, renderPilot } from "./pilot.js";
import { renderStandings } from "./standings.js";

const $ = (id) => document.getElementById(id);
const VIEWS = ["now", "standings", "pilot"];

const page = {
  event: null,
  channels: new Map(), // channel record id -> channelInfo entry (colour and display name for this event)
  current: null, // {race, state, pilots, laps, results}
  stale: new Set(VIEWS),
  pilotId: "",
  roundId: "", // the round a user picked on the leaderboard
};

const followLaps = retargetable();
const followState = retargetable();

/** The event's colour and display name of a channel, else what the channel record itself says. */
function channelOf(channelId, record) {
  const known = page.channels.get(channelId);
  if (known) return known;
  if (!record) return null;
  return { displayName: record.displayName || `${record.shortBand || ""}${record.number ?? ""}`,
    frequency: record.frequency, band: record.band, color: "" };
}

function notice(message) {
  const node = $("notice");
  node.textContent = message || "";
  node.hidden = !message;
}

function currentView() {
  const name = window.location.hash.slice(1).split("=")[0];
  return VIEWS.includes(name) ? name : "now";
}

// -- reading ------------------------------------------------------------------------------------------------------

async function loadEvent() {
  page.event = await api.pb.collection("events").getOne(page.event.id);
  page.channels = new Map((page.event.channelInfo || []).map((info) => [info.channel, info]));
  $("event-name").textContent = page.event.name || "Live timing";
  document.title = `${page.event.name || "Event"} · live timing`;
}

async function loadRace(raceId, withLaps) {
  const [race, pilots, laps, results] = await Promise.all([
    api.race(raceId), api.racePilots(raceId),
    withLaps ? api.raceLaps(raceId) : [], withLaps ? api.raceResults(raceId) : [],
  ]);
  return { race, pilots, laps, results };
}

async function refreshNow() {
  const [state, order] = await Promise.all([api.eventState(page.event.id), api.raceOrder(page.event.id), loadEvent()]);
  // Without an eventState record (a server fpvsync has not written to since it gained one), the race order decides.
  const running = order.find((row) => row.current);
  const firstUnstarted = (after) => order.find((row) => row.position > after && row.valid && row.state === "unstarted");
  const currentId = state ? state.currentRace : (running || firstUnstarted(0))?.id || "";
  const currentRow = order.find((row) => row.id === currentId);
  const nextId = state ? state.nextRace : firstUnstarted(currentRow?.position ?? 0)?.id || "";
  const raceState = state ? state.raceState : { running: "running", ended: "ended" }[currentRow?.state] || "idle";

  await followLaps("laps", currentId ? "race = {:r}" : "", { r: currentId }, onLap);
  const [current, next] = await Promise.all([
    currentId ? loadRace(currentId, true) : null,
    nextId ? loadRace(nextId, false) : null,
  ]);
  page.current = current && { ...current, state: raceState };
  page.currentStage = current?.race.expand?.round?.stage ?? null;
  page.currentRound = current?.race.round ?? null;
  page.order = order;
  renderCurrent($("current-race"), page.current, channelOf);
  renderNext($("next-race"), next, channelOf);
}

/** A lap of the running race arrived (or changed, or went): show it without reading anything else. */
function onLap(message) {
  const current = page.current;
  if (!current || message.record.race !== current.race.id) return;
  const laps = current.laps.filter((lap) => lap.id !== message.record.id);
  if (message.action !== "delete") laps.push(message.record);
  laps.sort((a, b) => a.endTime.localeCompare(b.endTime) || a.lapNumber - b.lapNumber);
  current.laps = laps;
  renderCurrent($("current-race"), current, channelOf);
}

/** The round whose points to show: the one picked, else the current race's, else the last one that has begun. */
function roundToShow(rounds) {
  const known = new Set(rounds.map((r) => r.id));
  if (known.has(page.roundId)) return page.roundId;
  if (known.has(page.currentRound)) return page.currentRound;
  const begun = (page.order || []).filter((row) => row.state !== "unstarted" && known.has(row.round));
  return begun.length ? begun[begun.length - 1].round : rounds[0]?.id || "";
}

async function refreshStandings() {
  const eventId = page.event.id;
  const [stages, rounds, standings, bests] = await Promise.all([
    api.stages(eventId), api.rounds(eventId), api.stageLeaderboard(eventId), api.pilotBests(eventId),
  ]);
  const round = roundToShow(rounds);
  const roundRows = round ? await api.roundLeaderboard(round) : [];
  const onRound = (id) => {
    page.roundId = id;
    refreshStandings().catch(report);
  };
  renderStandings($("standings"), {
    event: page.event, stages, standings, bests, currentStage: page.currentStage, rounds, round, roundRows, onRound,
  });
}

async function refreshPilot() {
  const eventId = page.event.id;
  const [roster, bests] = await Promise.all([api.roster(eventId), api.pilotBests(eventId)]);
  const pilots = new Map();
  for (const row of [...roster, ...bests]) if (row.expand?.pilot) pilots.set(row.pilot, row.expand.pilot);
  renderPicker($("pilot-select"), [...pilots.values()], page.pilotId, (id) => {
    window.location.hash = id ? `pilot=${id}` : "pilot";
  });
  if (!page.pilotId || !pilots.has(page.pilotId)) {
    renderPilot($("pilot"), null, channelOf);
    return;
  }
  const id = page.pilotId;
  const [schedule, entries, laps, results, order] = await Promise.all([
    api.pilotSchedule(eventId, id), api.pilotRaces(eventId, id), api.pilotLaps(eventId, id),
    api.pilotResults(eventId, id), page.order ? page.order : api.raceOrder(eventId),
  ]);
  renderPilot($("pilot"), {
    pilot: pilots.get(id), schedule, bests: bests.find((row) => row.pilot === id), entries, laps, results, order,
  }, channelOf);
}

const refreshers = { now: refreshNow, standings: refreshStandings, pilot: refreshPilot };

/** Re-read the visible view (and "now", which the others take the current stage and race order from). */
const refresh = coalesced(async () => {
  page.stale = new Set(VIEWS);
  const view = currentView();
  try {
    await refreshNow();
    page.stale.delete("now");
    if (view !== "now") {
      await refreshers[view]();
      page.stale.delete(view);
    }
    notice("");
    if (api.pb.realtime.isConnected) setConnection("live");
  } catch (error) {
    report(error);
  }
});

function report(error) {
  if (error?.isAbort) return;
  if (!error?.status) {
    setConnection("offline");
    notice("The server cannot be reached right now; the page reconnects by itself.");
  } else {
    notice(`The server answered ${error.status}: ${error.message}`);
  }
}

// -- views and start-up ---------------------------------------------------------------------------------------------

function showView() {
  const view = currentView();
  const [, pilot] = window.location.hash.slice(1).split("=");
  if (view === "pilot" && (pilot || "") !== page.pilotId) {
    page.pilotId = pilot || "";
    page.stale.add("pilot");
  }
  for (const name of VIEWS) $(`view-${name}`).hidden = name !== view;
  for (const link of document.querySelectorAll(".tabs a")) {
    if (link.dataset.view === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (page.event && page.stale.has(view)) {
    refreshers[view]().then(() => page.stale.delete(view), report);
  }
}

async function start() {
  const wanted = new URLSearchParams(window.location.search).get("event");
  page.event = await api.resolveEvent(wanted);
  if (!page.event) {
    notice(wanted ? `No event ${wanted} in this database.` : "No event has been mirrored here yet.");
    show($("current-race"), h("p", { class: "empty" }, "Waiting for the first sync…"));
    // The first sync creates an eventState record: start over then.
    await followState("eventState", "id != ''", {}, () => start().catch(report));
    return;
  }
  await followState("eventState", "id = {:id}", { id: page.event.id }, () => refresh());
  await refresh();
  showView();
}

window.addEventListener("hashchange", showView);
watchConnection(() => (page.event ? refresh() : start().catch(report)));
showView();
start().catch(report);
