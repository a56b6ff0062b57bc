/// <reference path="../pb_data/types.d.ts" />
// FPVTrackside's own rules, to the letter (FPVTracksideCore's RaceLib is the authority), and the pilotSchedule view.
//
// races gain the two figures FPVTrackside derives for a race (written by the mapping, fpvsync/rules.py):
//   roundNumber  Race.RoundNumber: its round's RoundNumber; 1 without a round (zero GUID, or an invalid race whose
//                round is missing); one past the highest RoundNumber for a valid race whose round is missing from
//                Rounds.json (DB/JSON/Race.cs GetRaceLibObject makes up an "Unknown" round; the race's `round`
//                relation then stays empty and the GUID is kept in extra.unresolved.Round)
//   eventType    Race.Type: its round's EventType, else the event's; "Unknown" for that made-up round
//
// This migration replaces the views pilotBests, stageLeaderboard and raceOrder of 1764000100_derived.js (same
// fields, figures now as FPVTrackside computes them) and adds pilotSchedule. What changed:
//   pilotBests.bestRaceTime  LapRecordManager.UpdatePilot / PilotLapRecord.UpdateRaceTime / GetBestRaceTime: only in
//       an event whose EventType is Race (EventTypes.HasLapCountLimit), over the pilot's valid laps of its valid
//       "Race"-type races, the first Event.Laps of them (one more when the first is the holeshot); the time is
//       Ext.TotalTime: the last lap's end minus the first lap's start (end - length). Not the race's TargetLaps.
//   stageLeaderboard  ResultManager.GetPointsTotal / GetCreateResults / GetRollOverRound with PointsSettings:
//       only races whose type has points (EventTypes.HasPoints: Race, Endurance); round roll-over results count
//       only in a final stage (StageType Final; builds without stages: a group holding a RoundType Final round)
//       whose point summary asks for RoundPositionRollover, for pilots listed in one of its races (Race.HasPilot,
//       started or not); when the point summary asks
//       for DropWorstRound and the pilot has more than one result and no missed round (race results >= the valid
//       rounds from their first to their last, RoundManager.CountRounds), the lowest result is dropped.
//       The point summary is the stage's PointSummary; without stages, the group's last valid round's.
//   raceOrder  a race of a made-up round sorts at that round's Order (RoundNumber * 100, as GetRaceLibObject sets);
//       new field pilots (how many pilots the race lists: RaceManager.GetNextRace skips races without any).
//   pilotSchedule (new) one row per (event, pilot) with a race to come.

const MIGRATED_VIEWS = ["pilotBests", "stageLeaderboard", "raceOrder"];

// Race.Type: the race's own eventType (written by the mapping), else its round's, else the event's.
const RACE_TYPE = "COALESCE(NULLIF(r.eventType, ''), NULLIF(ro.eventType, ''), e.eventType)";
const LAP_ORDER = "l.endTime, l.lapNumber";
// Milliseconds since the epoch of a PocketBase date text ("YYYY-MM-DD HH:MM:SS.sssZ"): exact integers.
const MS = (column) => `(CAST(strftime('%s', ${column}) AS INTEGER) * 1000 + CAST(substr(${column}, 21, 3) AS INTEGER))`;
// FPVTrackside's race order key (Round.Order, RaceNumber), a made-up round at RoundNumber * 100.
const ROUND_ORDER = "COALESCE(ro.`order`, CASE WHEN r.eventType = 'Unknown' THEN r.roundNumber * 100 END)";
const RACE_ORDER_KEY = `NOT r.valid, ${ROUND_ORDER} IS NULL, ${ROUND_ORDER}, r.raceNumber, r.start = '', r.start, r.id`;

// -- pilotBests ----------------------------------------------------------------------------------------------------

const pilotLaps = (condition) => `laps l JOIN races r ON r.id = l.race LEFT JOIN rounds ro ON ro.id = r.round
      WHERE l.event = po.event AND l.pilot = po.pilot AND l.valid AND r.valid AND ${condition}`;

// Laps that count for lap records (PilotLapRecord.UpdateBestConsecutiveLaps): valid, not holeshots, not practice.
const RECORD_LAPS = `NOT l.isHoleshot AND ${RACE_TYPE} IS NOT 'Practice'`;
const HOLESHOTS = `l.isHoleshot AND ${RACE_TYPE} IS NOT 'Practice'`;

const fastest = (condition) =>
  `(SELECT l.id FROM ${pilotLaps(condition)} ORDER BY l.lengthSeconds, ${LAP_ORDER} LIMIT 1)`;

// Ext.BestConsecutive: the fastest PBLaps consecutive record laps within one race.
const CONSECUTIVE_END = `(SELECT w.id FROM (
      SELECT c.id, c.endTime, c.k,
             c.cum - LAG(c.cum, e.pbLaps, 0) OVER (PARTITION BY c.race ORDER BY c.k) AS total
      FROM (SELECT l.id, l.race, l.endTime,
                   ROW_NUMBER() OVER (PARTITION BY l.race ORDER BY ${LAP_ORDER}) AS k,
                   SUM(l.lengthSeconds) OVER (PARTITION BY l.race ORDER BY ${LAP_ORDER} ROWS UNBOUNDED PRECEDING) AS cum
            FROM ${pilotLaps(RECORD_LAPS)}) c
    ) w WHERE e.pbLaps > 0 AND w.k >= e.pbLaps ORDER BY w.total, w.endTime LIMIT 1)`;

const CONSECUTIVE_TOTAL = `(SELECT ROUND(SUM(b.len), 7) FROM (
      SELECT l.lengthSeconds AS len, ROW_NUMBER() OVER (ORDER BY l.endTime DESC, l.lapNumber DESC) AS back
      FROM laps l
      WHERE l.race = cl.race AND l.pilot = cl.pilot AND l.valid AND NOT l.isHoleshot
        AND (l.endTime < cl.endTime OR (l.endTime = cl.endTime AND l.lapNumber <= cl.lapNumber))
    ) b WHERE b.back <= e.pbLaps)`;

// The race of the pilot's best race time (see the header): Event.Laps laps (+1 with a holeshot first), timed
// last end - first start; races with fewer do not count; ties go to the earlier race.
const RACE_TIME_RACE = `(SELECT t.race FROM (
      SELECT x.race, MIN(x.start) AS start, MAX(x.endMs) - MIN(x.startMs) AS total, COUNT(*) AS n, MAX(x.need) AS need
      FROM (SELECT l.race, r.start, ${MS("l.endTime")} AS endMs, ${MS("l.endTime")} - l.lengthSeconds * 1000.0 AS startMs,
                   ROW_NUMBER() OVER w AS p, e.laps + FIRST_VALUE(l.isHoleshot) OVER w AS need
            FROM ${pilotLaps(`e.eventType = 'Race' AND e.laps > 0 AND ${RACE_TYPE} = 'Race'`)}
            WINDOW w AS (PARTITION BY l.race ORDER BY ${LAP_ORDER})) x
      WHERE x.p <= x.need GROUP BY x.race
    ) t WHERE t.n = t.need ORDER BY t.total, t.start LIMIT 1)`;

const RACE_TIME_TOTAL = `(SELECT ROUND((MAX(b.endMs) - MIN(b.startMs)) / 1000.0, 7) FROM (
      SELECT ${MS("l.endTime")} AS endMs, ${MS("l.endTime")} - l.lengthSeconds * 1000.0 AS startMs,
             ROW_NUMBER() OVER w AS p, e.laps + FIRST_VALUE(l.isHoleshot) OVER w AS need
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

// -- stageLeaderboard ----------------------------------------------------------------------------------------------

// A point summary's setting, 0 when absent or unreadable.
const SETTING = (column, name) => `COALESCE(CASE WHEN json_valid(${column}) THEN json_extract(${column}, '$.${name}') END, 0)`;
// The group's last valid round with a point summary (builds without stages keep it on the round).
const ROUND_SETTING = (name) => `(SELECT ${SETTING("lr.pointSummary", name)} FROM rounds lr
      WHERE lr.event = ro.event AND lr.stage = ro.stage AND lr.valid AND json_valid(lr.pointSummary)
        AND json_type(lr.pointSummary) = 'object' ORDER BY lr.\`order\` DESC LIMIT 1)`;

// One row per (event, stage) of valid rounds: its point settings and whether it is a final.
const GROUPS = `(SELECT ro.event AS event, ro.stage AS stage,
      CASE WHEN st.id IS NOT NULL THEN ${SETTING("st.pointSummary", "DropWorstRound")}
           ELSE COALESCE(${ROUND_SETTING("DropWorstRound")}, 0) END AS dropWorst,
      CASE WHEN st.id IS NOT NULL THEN ${SETTING("st.pointSummary", "RoundPositionRollover")}
           ELSE COALESCE(${ROUND_SETTING("RoundPositionRollover")}, 0) END AS rollover,
      (COALESCE(st.stageType, '') = 'Final' OR MAX(COALESCE(ro.roundType, '') = 'Final')) AS final
    FROM rounds ro LEFT JOIN stages st ON st.id = ro.stage
    WHERE ro.valid GROUP BY ro.event, ro.stage)`;

// Every result that counts for a (stage, pilot): race results, then roll-over results moved into finals.
const STAGE_RESULTS = `SELECT res.event AS event, ro.stage AS stage, res.pilot AS pilot, res.points AS points,
      1 AS isRace, ro.\`order\` AS roundOrder, res.position AS position, res.dnf AS dnf, ro.id AS round,
      g.dropWorst AS dropWorst
    FROM results res
    JOIN races r ON r.id = res.race
    JOIN rounds ro ON ro.id = res.round
    JOIN events e ON e.id = res.event
    JOIN ${GROUPS} g ON g.event = ro.event AND g.stage = ro.stage
    WHERE res.valid AND r.valid AND ro.valid AND ${RACE_TYPE} IN ('Race', 'Endurance')
  UNION ALL
  SELECT res.event, g.stage, res.pilot, res.points, 0, NULL, NULL, 0, NULL, g.dropWorst
    FROM results res
    JOIN ${GROUPS} g ON g.event = res.event AND g.final AND g.rollover
    WHERE res.race = '' AND res.valid AND EXISTS (
      SELECT 1 FROM pilotChannels fp JOIN races fa ON fa.id = fp.race JOIN rounds fo ON fo.id = fa.round
      WHERE fp.event = res.event AND fp.pilot = res.pilot AND fo.stage = g.stage AND fo.valid AND fa.valid
        AND COALESCE(NULLIF(fa.eventType, ''), fo.eventType) IN ('Race', 'Endurance'))`;

const STAGE_LEADERBOARD = `SELECT
  (x.event || x.stage || x.pilot) AS id,
  e.id AS event,
  st.id AS stage,
  p.id AS pilot,
  CAST(RANK() OVER (PARTITION BY x.event, x.stage ORDER BY x.total - x.dropped DESC) AS INTEGER) AS position,
  CAST(x.rounds AS INTEGER) AS rounds,
  CAST(x.total - x.dropped AS INTEGER) AS points,
  CAST(x.dropped AS INTEGER) AS droppedPoints,
  CAST(x.racePoints AS INTEGER) AS racePoints,
  CAST(x.rolloverPoints AS INTEGER) AS rolloverPoints,
  CAST(x.races AS INTEGER) AS races,
  CAST(x.wins AS INTEGER) AS wins,
  CAST(x.dnfs AS INTEGER) AS dnfs,
  CAST(x.bestPosition AS INTEGER) AS bestPosition
FROM (
  SELECT y.*, CASE WHEN y.dropWorst AND y.n > 1 AND y.races >= (
      SELECT COUNT(*) FROM rounds cr WHERE cr.event = y.event AND cr.valid
        AND cr.\`order\` BETWEEN y.firstOrder AND y.lastOrder) THEN y.worst ELSE 0 END AS dropped
  FROM (
    SELECT c.event, c.stage, c.pilot, SUM(c.points) AS total, MIN(c.points) AS worst, COUNT(*) AS n,
      SUM(CASE WHEN c.isRace THEN c.points ELSE 0 END) AS racePoints,
      SUM(CASE WHEN c.isRace THEN 0 ELSE c.points END) AS rolloverPoints,
      SUM(c.isRace) AS races,
      SUM(c.isRace AND c.position = 1) AS wins,
      SUM(c.isRace AND c.dnf) AS dnfs,
      MIN(CASE WHEN c.isRace AND c.position > 0 THEN c.position END) AS bestPosition,
      COUNT(DISTINCT c.round) AS rounds,
      MIN(c.roundOrder) AS firstOrder, MAX(c.roundOrder) AS lastOrder, MAX(c.dropWorst) AS dropWorst
    FROM (${STAGE_RESULTS}) c
    GROUP BY c.event, c.stage, c.pilot
  ) y
) x
JOIN events e ON e.id = x.event
JOIN pilots p ON p.id = x.pilot
LEFT JOIN stages st ON st.id = x.stage`;

// -- raceOrder -----------------------------------------------------------------------------------------------------

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
  CAST(ROW_NUMBER() OVER (PARTITION BY e.id ORDER BY ${RACE_ORDER_KEY}) AS INTEGER) AS position,
  CAST((SELECT COUNT(*) FROM pilotChannels q WHERE q.race = r.id) AS INTEGER) AS pilots,
  CAST(r.start != '' AND r.end = '' AS BOOLEAN) AS current,
  CAST(CASE WHEN r.start = '' THEN 'unstarted' WHEN r.end = '' THEN 'running' ELSE 'ended' END AS TEXT) AS state
FROM races r
JOIN events e ON e.id = r.event
LEFT JOIN rounds ro ON ro.id = r.round`;

// -- pilotSchedule -------------------------------------------------------------------------------------------------
// One row per (event, pilot) with a race to come: the first valid, not-started race in FPVTrackside's race order
// (the raceOrder view's position) whose PilotChannels list the pilot; its round and the pilot's channel in it;
// racesUntil = how many valid not-started races with pilots come before it (RaceManager.GetNextRace runs only
// valid, unfinished races with PilotChannels, in (Round.Order, RaceOrder) order).

const PILOT_SCHEDULE = `SELECT
  (q.event || q.pilot) AS id,
  e.id AS event,
  p.id AS pilot,
  r.id AS nextRace,
  r.round AS round,
  pc.channel AS channel,
  CAST(q.racesUntil AS INTEGER) AS racesUntil,
  CAST(q.position AS INTEGER) AS position
FROM (
  SELECT pc.id AS entry, pc.event, pc.pilot, pc.race, o.position, o.pending - 1 AS racesUntil,
    ROW_NUMBER() OVER (PARTITION BY pc.event, pc.pilot ORDER BY o.position) AS k
  FROM pilotChannels pc
  JOIN (
    SELECT r.id, r.valid, r.start,
      ROW_NUMBER() OVER (PARTITION BY r.event ORDER BY ${RACE_ORDER_KEY}) AS position,
      SUM(r.valid AND r.start = '' AND EXISTS (SELECT 1 FROM pilotChannels x WHERE x.race = r.id))
        OVER (PARTITION BY r.event ORDER BY ${RACE_ORDER_KEY} ROWS UNBOUNDED PRECEDING) AS pending
    FROM races r LEFT JOIN rounds ro ON ro.id = r.round
  ) o ON o.id = pc.race
  WHERE pc.race != '' AND pc.pilot != '' AND o.valid AND o.start = ''
) q
JOIN events e ON e.id = q.event
JOIN pilots p ON p.id = q.pilot
JOIN races r ON r.id = q.race
JOIN pilotChannels pc ON pc.id = q.entry
WHERE q.k = 1`;

migrate((app) => {
  const races = app.findCollectionByNameOrId("races");
  races.fields.add(new NumberField({ name: "roundNumber", onlyInt: true }));
  races.fields.add(new TextField({ name: "eventType" }));
  app.save(races);

  const queries = { pilotBests: PILOT_BESTS, stageLeaderboard: STAGE_LEADERBOARD, raceOrder: RACE_ORDER };
  for (const [name, viewQuery] of Object.entries(queries)) {
    const view = app.findCollectionByNameOrId(name);
    view.viewQuery = viewQuery;
    app.save(view);
  }
  app.save(new Collection({ type: "view", name: "pilotSchedule", listRule: "", viewRule: "", viewQuery: PILOT_SCHEDULE }));
}, (app) => {
  // Going back: pilotSchedule goes; the replaced views stop reading the race fields this migration added.
  try {
    app.delete(app.findCollectionByNameOrId("pilotSchedule"));
  } catch (e) {
    // already gone
  }
  for (const name of MIGRATED_VIEWS) {
    try {
      const view = app.findCollectionByNameOrId(name);
      view.viewQuery = view.viewQuery
        .replaceAll("NULLIF(r.eventType, ''), ", "")
        .replaceAll(ROUND_ORDER, "ro.`order`");
      app.save(view);
    } catch (e) {
      // already gone
    }
  }
  const races = app.findCollectionByNameOrId("races");
  races.fields.removeByName("roundNumber");
  races.fields.removeByName("eventType");
  app.save(races);
});
