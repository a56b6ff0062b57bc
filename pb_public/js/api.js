// The page's reads: the public queries of the README's "Front-end queries", nothing else. All by record id.
import PocketBase from "../vendor/pocketbase/pocketbase.es.mjs";

export const pb = new PocketBase(window.location.origin);
pb.autoCancellation(false); // several views read the same collections at once; none should cancel another

const ALL = { perPage: 1000, skipTotal: true };

function list(collection, filter, params, options = {}) {
  return pb.collection(collection).getList(1, ALL.perPage, {
    skipTotal: true,
    filter: filter ? pb.filter(filter, params) : "",
    ...options,
  }).then((page) => page.items);
}

/** The event to show: ?event= (a record id or an FPVTrackside GUID), else the one that changed last. */
export async function resolveEvent(wanted) {
  if (wanted) {
    const found = await list("events", "id = {:v} || sourceId = {:v}", { v: wanted }, { perPage: 1 });
    return found[0] || null;
  }
  const states = await list("eventState", "", {}, { sort: "-changedAt", perPage: 1, fields: "event" });
  if (states.length) return pb.collection("events").getOne(states[0].event);
  const events = await list("events", "", {}, { sort: "-lastOpened,-start", perPage: 1 });
  return events[0] || null;
}

export function eventState(eventId) {
  return list("eventState", "id = {:id}", { id: eventId }).then((items) => items[0] || null);
}

export const raceOrder = (eventId) => list("raceOrder", "event = {:e}", { e: eventId }, { sort: "position" });
export const race = (raceId) => pb.collection("races").getOne(raceId, { expand: "round" });
export const racePilots = (raceId) => list("pilotChannels", "race = {:r}", { r: raceId }, { expand: "pilot,channel" });
export const raceLaps = (raceId) => list("laps", "race = {:r}", { r: raceId }, { sort: "endTime,lapNumber" });
export const raceResults = (raceId) => list("results", "race = {:r}", { r: raceId }, { sort: "position" });
export const roster = (eventId) =>
  list("pilotChannels", "event = {:e} && race = ''", { e: eventId }, { expand: "pilot,channel" });
export const stages = (eventId) => list("stages", "event = {:e}", { e: eventId }, { sort: "order" });
export const rounds = (eventId) => list("rounds", "event = {:e}", { e: eventId }, { sort: "order" });
export const stageLeaderboard = (eventId) =>
  list("stageLeaderboard", "event = {:e}", { e: eventId }, { sort: "position", expand: "pilot" });
export const roundLeaderboard = (roundId) =>
  list("leaderboard", "round = {:r}", { r: roundId }, { sort: "position", expand: "pilot" });
export const pilotBests = (eventId) => list("pilotBests", "event = {:e}", { e: eventId }, { expand: "pilot" });

export const pilotRaces = (eventId, pilotId) =>
  list("pilotChannels", "event = {:e} && pilot = {:p} && race != ''", { e: eventId, p: pilotId }, { expand: "channel" });
export const pilotLaps = (eventId, pilotId) =>
  list("laps", "event = {:e} && pilot = {:p}", { e: eventId, p: pilotId }, { sort: "endTime,lapNumber" });
export const pilotResults = (eventId, pilotId) =>
  list("results", "event = {:e} && pilot = {:p} && race != ''", { e: eventId, p: pilotId });

/**
 * The pilot's next race from the pilotSchedule view; `undefined` when this PocketBase has no such view (an older
 * schema answers 404), `null` when the pilot has no race to come.
 */
export async function pilotSchedule(eventId, pilotId) {
  try {
    const rows = await list("pilotSchedule", "event = {:e} && pilot = {:p}", { e: eventId, p: pilotId },
      { expand: "nextRace,channel" });
    return rows[0] || null;
  } catch (error) {
    if (error?.status === 404) return undefined;
    throw error;
  }
}
