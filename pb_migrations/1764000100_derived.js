/// <reference path="../pb_data/types.d.ts" />
// Derived race data, by FPVTrackside's own rules (RaceLib: Race, Lap, Ext, LapRecordManager, EventManager), so that
// front ends read answers instead of recomputing them from raw laps.
//
// - Stored by the mapping (fpvsync/derived.py), because each needs only one source document:
//   laps.valid / laps.isHoleshot / laps.withinTarget (from the race file) and events.channelInfo (colour and display
//   name of every event channel).
// - View collections (read-only SQL over the synced collections) for everything spanning races: they are always
//   current, with nothing for the engine to keep in sync. Each view is written so that a filter on `event` (or
//   `round`, `stage`) reaches the indexes: its cost is that of one event, however many events PocketBase holds.
//     pilotBests        one row per (event, pilot): races flown, valid laps, fastest lap, fastest PBLaps consecutive
//                       laps, fastest holeshot, best race time, each with the race and round it came from
//     leaderboard       one row per (round, pilot): points (race and roll-over), rank, races, wins, DNFs
//     stageLeaderboard  one row per (event, stage, pilot) over the stage's valid rounds (stage empty: rounds
//                       without a stage, i.e. the whole event in builds before stages)
//     raceOrder         one row per race (id = the race's id): its place in the event and whether it is current
//
// Rules shared by the views: only valid races count (Race.Valid); a race's type is its round's EventType, else the
// event's. Lap records skip Practice races (PilotLapRecord.UpdateBestConsecutiveLaps); the race time counts only
// "Race" races (EventTypes.HasLapCount). Ties go to the earlier one. Seconds are rounded to 100 ns (.NET ticks).

const VIEWS = ["pilotBests", "leaderboard", "stageLeaderboard", "raceOrder"];

// -- pilotBests ----------------------------------------------------------------------------------------------------
// Driven by one race pilotChannels row per (event, pilot), every best is a correlated subquery over that pilot's laps
// (index idx_laps_pilot_bests): a filter on the event narrows everything to the event's pilots first.

const RACE_TYPE = "COALESCE(NULLIF(ro.eventType, ''), e.eventType)";
const LAP_ORDER = "l.endTime, l.lapNumber";

// The pilot's valid laps in the event's valid races, plus a condition.
const pilotLaps = (condition) => `laps l JOIN races r ON r.id = l.race LEFT JOIN rounds ro ON ro.id = r.round
      WHERE l.event = po.event AND l.pilot = po.pilot AND l.valid AND r.valid AND ${condition}`;

// Laps that count for lap records: valid, not holeshots, not in practice.
const RECORD_LAPS = `NOT l.isHoleshot AND ${RACE_TYPE} IS NOT 'Practice'`;
const HOLESHOTS = `l.isHoleshot AND ${RACE_TYPE} IS NOT 'Practice'`;

// The id of the pilot's shortest lap matching a condition.
const fastest = (condition) =>
  `(SELECT l.id FROM ${pilotLaps(condition)} ORDER BY l.lengthSeconds, ${LAP_ORDER} LIMIT 1)`;

// The id of the last lap of the pilot's fastest PBLaps consecutive record laps within one race
// (Ext.BestConsecutive): running sums per race, minus the running sum PBLaps laps earlier.
const CONSECUTIVE_END = `(SELECT w.id FROM (
      SELECT c.id, c.endTime, c.k,
             c.cum - LAG(c.cum, e.pbLaps, 0) OVER (PARTITION BY c.race ORDER BY c.k) AS total
      FROM (SELECT l.id, l.race, l.endTime,
                   ROW_NUMBER() OVER (PARTITION BY l.race ORDER BY ${LAP_ORDER}) AS k,
                   SUM(l.lengthSeconds) OVER (PARTITION BY l.race ORDER BY ${LAP_ORDER} ROWS UNBOUNDED PRECEDING) AS cum
            FROM ${pilotLaps(RECORD_LAPS)}) c
    ) w WHERE e.pbLaps > 0 AND w.k >= e.pbLaps ORDER BY w.total, w.endTime LIMIT 1)`;

// The sum of those laps: the PBLaps record laps of that race ending with that lap.
const CONSECUTIVE_TOTAL = `(SELECT ROUND(SUM(b.len), 7) FROM (
      SELECT l.lengthSeconds AS len, ROW_NUMBER() OVER (ORDER BY l.endTime DESC, l.lapNumber DESC) AS back
      FROM laps l
      WHERE l.race = cl.race AND l.pilot = cl.pilot AND l.valid AND NOT l.isHoleshot
        AND (l.endTime < cl.endTime OR (l.endTime = cl.endTime AND l.lapNumber <= cl.lapNumber))
    ) b WHERE b.back <= e.pbLaps)`;

// The race of the pilot's best race time (LapRecordManager.GetBestRaceTime): in each "Race" race, the first
// TargetLaps valid laps, plus one when the first valid lap is the holeshot; races with fewer do not count.
const RACE_TIME_RACE = `(SELECT t.race FROM (
      SELECT x.race, MIN(x.start) AS start, SUM(x.len) AS total, COUNT(*) AS n, MAX(x.need) AS need
      FROM (SELECT l.race, r.start, l.lengthSeconds AS len, ROW_NUMBER() OVER w AS p,
                   r.targetLaps + FIRST_VALUE(l.isHoleshot) OVER w AS need
            FROM ${pilotLaps(`r.targetLaps > 0 AND ${RACE_TYPE} = 'Race'`)}
            WINDOW w AS (PARTITION BY l.race ORDER BY ${LAP_ORDER})) x
      WHERE x.p <= x.need GROUP BY x.race
    ) t WHERE t.n = t.need ORDER BY t.total, t.start LIMIT 1)`;

// That race time: the same laps of that race.
const RACE_TIME_TOTAL = `(SELECT ROUND(SUM(b.len), 7) FROM (
      SELECT l.lengthSeconds AS len, ROW_NUMBER() OVER w AS p, rt.targetLaps + FIRST_VALUE(l.isHoleshot) OVER w AS need
      FROM laps l WHERE l.race = rt.id AND l.pilot = x.pilot AND l.valid
      WINDOW w AS (ORDER BY ${LAP_ORDER})
    ) b WHERE b.p <= b.need)`;

const PILOT_BESTS = `SELECT
  (x.event || x.pilot) AS id,
  e.id AS event,
  p.id AS pilot,
  CAST(x.racesFlown AS INTEGER) AS racesFlown,
  CAST(x.validLaps AS INTEGER) AS validLaps,
  fl.lengthSeconds AS fastestLap,
  fl.race AS fastestLapRace,
  flr.round AS fastestLapRound,
  e.pbLaps AS consecutiveLaps,
  CAST(${CONSECUTIVE_TOTAL} AS REAL) AS fastestConsecutive,
  cl.race AS fastestConsecutiveRace,
  clr.round AS fastestConsecutiveRound,
  hs.lengthSeconds AS fastestHoleshot,
  hs.race AS fastestHoleshotRace,
  hsr.round AS fastestHoleshotRound,
  CAST(${RACE_TIME_TOTAL} AS REAL) AS bestRaceTime,
  rt.id AS bestRaceTimeRace,
  rt.round AS bestRaceTimeRound
FROM (
  SELECT po.event, po.pilot,
    (SELECT COUNT(*) FROM pilotChannels q JOIN races r ON r.id = q.race
      WHERE q.event = po.event AND q.pilot = po.pilot AND r.valid AND r.start != '') AS racesFlown,
    (SELECT COUNT(*) FROM ${pilotLaps("NOT l.isHoleshot")}) AS validLaps,
    ${fastest(RECORD_LAPS)} AS fastestLap,
    ${fastest(HOLESHOTS)} AS fastestHoleshot,
    ${CONSECUTIVE_END} AS consecutiveEnd,
    ${RACE_TIME_RACE} AS raceTimeRace
  FROM pilotChannels po
  JOIN events e ON e.id = po.event
  WHERE po.race != '' AND po.pilot != '' AND NOT EXISTS (
    SELECT 1 FROM pilotChannels o WHERE o.event = po.event AND o.pilot = po.pilot AND o.race != '' AND o.id < po.id)
) x
JOIN events e ON e.id = x.event
JOIN pilots p ON p.id = x.pilot
LEFT JOIN laps fl ON fl.id = x.fastestLap
LEFT JOIN races flr ON flr.id = fl.race
LEFT JOIN laps cl ON cl.id = x.consecutiveEnd
LEFT JOIN races clr ON clr.id = cl.race
LEFT JOIN laps hs ON hs.id = x.fastestHoleshot
LEFT JOIN races hsr ON hsr.id = hs.race
LEFT JOIN races rt ON rt.id = x.raceTimeRace`;

// -- leaderboards --------------------------------------------------------------------------------------------------
// From the results FPVTrackside wrote: valid results of valid races, plus round roll-over results (no race).
// Window partitions start with the event, so that SQLite pushes a filter on the event (or round, stage) down.

const RESULT_TOTALS = `CAST(SUM(res.points) AS INTEGER) AS points,
  CAST(SUM(CASE WHEN res.race != '' THEN res.points ELSE 0 END) AS INTEGER) AS racePoints,
  CAST(SUM(CASE WHEN res.race = '' THEN res.points ELSE 0 END) AS INTEGER) AS rolloverPoints,
  CAST(SUM(res.race != '') AS INTEGER) AS races,
  CAST(SUM(res.race != '' AND res.position = 1) AS INTEGER) AS wins,
  CAST(SUM(res.race != '' AND res.dnf) AS INTEGER) AS dnfs,
  CAST(MIN(CASE WHEN res.race != '' AND res.position > 0 THEN res.position END) AS INTEGER) AS bestPosition`;

const RESULTS_FROM = `FROM results res
JOIN events e ON e.id = res.event
JOIN rounds ro ON ro.id = res.round
JOIN pilots p ON p.id = res.pilot
LEFT JOIN races ra ON ra.id = res.race`;

const LEADERBOARD = `SELECT
  (ro.id || p.id) AS id,
  e.id AS event,
  ro.id AS round,
  ro.stage AS stage,
  p.id AS pilot,
  ro.\`order\` AS roundOrder,
  ro.valid AS roundValid,
  CAST(RANK() OVER (PARTITION BY e.id, ro.id ORDER BY SUM(res.points) DESC) AS INTEGER) AS position,
  ${RESULT_TOTALS}
${RESULTS_FROM}
WHERE res.valid AND (res.race = '' OR ra.valid)
GROUP BY e.id, ro.id, p.id`;

const STAGE_LEADERBOARD = `SELECT
  (e.id || COALESCE(st.id, '') || p.id) AS id,
  e.id AS event,
  st.id AS stage,
  p.id AS pilot,
  CAST(RANK() OVER (PARTITION BY e.id, st.id ORDER BY SUM(res.points) DESC) AS INTEGER) AS position,
  CAST(COUNT(DISTINCT ro.id) AS INTEGER) AS rounds,
  ${RESULT_TOTALS}
${RESULTS_FROM}
LEFT JOIN stages st ON st.id = ro.stage
WHERE res.valid AND ro.valid AND (res.race = '' OR ra.valid)
GROUP BY e.id, st.id, p.id`;

// -- raceOrder -----------------------------------------------------------------------------------------------------
// FPVTrackside's race order: (Round.Order, RaceNumber); invalid races last. Current: started and not ended.

const RACE_ORDER = `SELECT
  r.id AS id,
  e.id AS event,
  r.id AS race,
  ro.id AS round,
  r.name AS name,
  r.raceNumber AS raceNumber,
  ro.\`order\` AS roundOrder,
  r.valid AS valid,
  r.start AS start,
  r.end AS end,
  CAST(ROW_NUMBER() OVER (PARTITION BY e.id
    ORDER BY NOT r.valid, ro.\`order\` IS NULL, ro.\`order\`, r.raceNumber, r.start = '', r.start, r.id) AS INTEGER) AS position,
  CAST(r.start != '' AND r.end = '' AS BOOLEAN) AS current,
  CAST(CASE WHEN r.start = '' THEN 'unstarted' WHEN r.end = '' THEN 'running' ELSE 'ended' END AS TEXT) AS state
FROM races r
JOIN events e ON e.id = r.event
LEFT JOIN rounds ro ON ro.id = r.round`;

migrate((app) => {
  const laps = app.findCollectionByNameOrId("laps");
  laps.fields.add(new BoolField({ name: "valid" }));
  laps.fields.add(new BoolField({ name: "isHoleshot" }));
  laps.fields.add(new BoolField({ name: "withinTarget" }));
  // Covers every per-pilot lap scan of pilotBests (no table lookups).
  laps.addIndex("idx_laps_pilot_bests", false,
    "event, pilot, race, endTime, lapNumber, valid, isHoleshot, lengthSeconds, id", "");
  app.save(laps);

  const pilotChannels = app.findCollectionByNameOrId("pilotChannels");
  pilotChannels.addIndex("idx_pilotChannels_event_pilot", false, "event, pilot", "");
  app.save(pilotChannels);

  const events = app.findCollectionByNameOrId("events");
  // [{channel, sourceId, frequency, band, shortBand, number, color, displayName}], in colour walk order.
  events.fields.add(new JSONField({ name: "channelInfo", maxSize: 0 }));
  app.save(events);

  const views = {
    pilotBests: PILOT_BESTS,
    leaderboard: LEADERBOARD,
    stageLeaderboard: STAGE_LEADERBOARD,
    raceOrder: RACE_ORDER,
  };
  for (const [name, viewQuery] of Object.entries(views)) {
    app.save(new Collection({ type: "view", name, listRule: "", viewRule: "", viewQuery }));
  }
}, (app) => {
  for (const name of [...VIEWS].reverse()) {
    try {
      app.delete(app.findCollectionByNameOrId(name));
    } catch (e) {
      // already gone
    }
  }
  const events = app.findCollectionByNameOrId("events");
  events.fields.removeByName("channelInfo");
  app.save(events);
  const pilotChannels = app.findCollectionByNameOrId("pilotChannels");
  pilotChannels.removeIndex("idx_pilotChannels_event_pilot");
  app.save(pilotChannels);
  const laps = app.findCollectionByNameOrId("laps");
  laps.removeIndex("idx_laps_pilot_bests");
  for (const name of ["valid", "isHoleshot", "withinTarget"]) {
    laps.fields.removeByName(name);
  }
  app.save(laps);
});
