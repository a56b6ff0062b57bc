/// <reference path="../pb_data/types.d.ts" />
// fpvsync's schema: the collections FPVTrackside data is mirrored into, plus superuser-only bookkeeping.
//
// Every synced collection has `source` + `sourceId` (unique together), `extra` (source keys the mapping does not
// know, so nothing the source sends is lost), `syncHash` (hidden from the public API) and `created`/`updated`. Record ids are computed by fpvsync from
// (source, sourceId), so relations are written without lookups. Racing collections are publicly readable and
// writable by superusers only.

const SYNCED = [
  "channels", "pilots", "events", "stages", "rounds", "races",
  "pilotChannels", "detections", "laps", "gamePoints", "results",
];

migrate((app) => {
  const ids = {};
  const text = (name, opts = {}) => ({ type: "text", name, ...opts });
  const int = (name) => ({ type: "number", name, onlyInt: true });
  const num = (name) => ({ type: "number", name });
  const bool = (name) => ({ type: "bool", name });
  const date = (name) => ({ type: "date", name });
  const json = (name) => ({ type: "json", name, maxSize: 0 });
  const rel = (name, target, { multi = false, cascade = false } = {}) => ({
    type: "relation",
    name,
    collectionId: ids[target],
    maxSelect: multi ? 2147483647 : 1,
    cascadeDelete: cascade,
  });
  const autodates = [
    { type: "autodate", name: "created", onCreate: true, onUpdate: false },
    { type: "autodate", name: "updated", onCreate: true, onUpdate: true },
  ];

  const create = (name, { fields, indexes = [], rules = null }) => {
    const collection = new Collection({
      type: "base",
      name,
      listRule: rules,
      viewRule: rules,
      createRule: null,
      updateRule: null,
      deleteRule: null,
      fields: [...fields, ...autodates],
      indexes,
    });
    app.save(collection);
    ids[name] = collection.id;
  };

  const synced = (name, fields, indexes = []) =>
    create(name, {
      rules: "",
      fields: [
        text("source", { required: true, max: 64 }),
        text("sourceId", { required: true, max: 200 }),
        ...fields,
        int("externalId"),
        json("extra"),
        // Hash of the record as fpvsync last wrote it: unchanged records are detected without reading them whole.
        text("syncHash", { hidden: true, max: 64 }),
      ],
      indexes: [`CREATE UNIQUE INDEX idx_${name}_source ON ${name} (source, sourceId)`, ...indexes],
    });

  synced("channels", [
    int("number"), text("band"), text("shortBand"), text("channelPrefix"), int("frequency"), text("displayName"),
  ]);

  synced("pilots", [
    text("name"), text("phonetic"), text("firstName"), text("lastName"), text("sillyName"), text("discordId"),
    text("aircraft"), text("catchPhrase"), text("bestResult"), num("timingSensitivityPercent"),
    bool("practicePilot"), text("photoPath"), text("velocidroneUid"), bool("videoFlipped"), bool("videoMirrored"),
  ], ["CREATE INDEX idx_pilots_name ON pilots (name)"]);

  synced("events", [
    text("name"), text("eventType"), date("start"), date("end"), int("laps"), int("pbLaps"), int("packLimit"),
    num("raceLength"), num("minStartDelay"), num("maxStartDelay"), text("primaryTimingSystemLocation"),
    num("raceStartIgnoreDetections"), num("minLapTime"), date("lastOpened"),
    rel("channels", "channels", { multi: true }), json("channelColors"), json("channelDisplayNames"),
    rel("removedPilots", "pilots", { multi: true }), bool("enabled"), bool("visibleOnline"), text("club"),
    text("track"), json("sectors"), int("pilotsRegistered"), json("flags"), text("gameTypeName"), text("timeZone"),
    bool("locked"), text("multiGpRaceFormat"),
  ], [
    "CREATE INDEX idx_events_sourceId ON events (sourceId)",
    "CREATE INDEX idx_events_start ON events (start)",
  ]);

  synced("stages", [
    rel("event", "events", { cascade: true }), text("name"), json("pointSummary"), json("timeSummary"),
    bool("lapCountAfterRound"), text("sheetFormatFilename"), text("scriptFormatFilename"), bool("valid"),
    int("order"), text("stageType"), json("standings"),
  ], ["CREATE INDEX idx_stages_event_order ON stages (event, `order`)"]);

  synced("rounds", [
    rel("event", "events", { cascade: true }), rel("stage", "stages"), text("name"), int("roundNumber"),
    text("eventType"), bool("valid"), int("order"), date("scheduledStart"), bool("handicapped"),
    text("gameTypeName"), text("roundType"), json("pointSummary"), json("timeSummary"),
    bool("lapCountAfterRound"), text("sheetFormatFilename"),
  ], ["CREATE INDEX idx_rounds_event_order ON rounds (event, `order`)"]);

  synced("races", [
    rel("event", "events", { cascade: true }), rel("round", "rounds"), text("name"), int("raceNumber"),
    date("start"), date("end"), num("totalPausedTime"), int("targetLaps"), text("primaryTimingSystemLocation"),
    bool("valid"), bool("autoAssignNumbers"), text("bracket"),
  ], [
    "CREATE INDEX idx_races_event_round_number ON races (event, round, raceNumber)",
    "CREATE INDEX idx_races_start ON races (start)",
  ]);

  synced("pilotChannels", [
    rel("event", "events", { cascade: true }), rel("race", "races", { cascade: true }), rel("pilot", "pilots"),
    rel("channel", "channels"), num("handicapOffset"),
  ], [
    "CREATE INDEX idx_pilotChannels_event_race ON pilotChannels (event, race)",
    "CREATE INDEX idx_pilotChannels_race ON pilotChannels (race)",
  ]);

  synced("detections", [
    rel("event", "events", { cascade: true }), rel("race", "races", { cascade: true }), rel("pilot", "pilots"),
    rel("channel", "channels"), int("timingSystemIndex"), date("time"), int("peak"), text("timingSystemType"),
    int("lapNumber"), bool("valid"), text("validityType"), bool("isLapEnd"), int("raceSector"), bool("isHoleshot"),
  ], [
    "CREATE INDEX idx_detections_race_time ON detections (race, time)",
    "CREATE INDEX idx_detections_event ON detections (event)",
  ]);

  synced("laps", [
    rel("event", "events", { cascade: true }), rel("race", "races", { cascade: true }),
    rel("detection", "detections", { cascade: true }), rel("pilot", "pilots"), int("lapNumber"),
    num("lengthSeconds"), date("startTime"), date("endTime"),
  ], [
    "CREATE INDEX idx_laps_race_lapNumber ON laps (race, lapNumber)",
    "CREATE INDEX idx_laps_event_pilot ON laps (event, pilot)",
  ]);

  synced("gamePoints", [
    rel("event", "events", { cascade: true }), rel("race", "races", { cascade: true }), rel("pilot", "pilots"),
    rel("channel", "channels"), bool("valid"), date("time"),
  ], [
    "CREATE INDEX idx_gamePoints_race ON gamePoints (race)",
    "CREATE INDEX idx_gamePoints_event ON gamePoints (event)",
  ]);

  synced("results", [
    rel("event", "events", { cascade: true }), rel("race", "races", { cascade: true }), rel("round", "rounds"),
    rel("pilot", "pilots"), int("points"), int("position"), bool("valid"), bool("dnf"), text("resultType"),
    num("time"), int("lapsFinished"),
  ], [
    "CREATE INDEX idx_results_event_race_position ON results (event, race, position)",
    "CREATE INDEX idx_results_race ON results (race)",
  ]);

  // Bookkeeping: superuser-only (null rules).
  create("syncRuns", {
    fields: [
      text("command", { required: true }), text("event"), bool("ok"), int("exitCode"), date("startedAt"),
      date("finishedAt"), num("durationSeconds"), int("written"), int("errorCount"), json("summary"),
    ],
    indexes: ["CREATE INDEX idx_syncRuns_event_started ON syncRuns (event, startedAt)"],
  });
  create("documentHashes", {
    fields: [text("path", { required: true, max: 1000 }), text("event"), text("sha256"), date("syncedAt")],
    indexes: [
      "CREATE UNIQUE INDEX idx_documentHashes_path ON documentHashes (path)",
      "CREATE INDEX idx_documentHashes_event ON documentHashes (event)",
    ],
  });

  // fpvsync writes through the batch API: one transaction per chunk of upserts/deletes.
  const settings = app.settings();
  settings.batch.enabled = true;
  settings.batch.maxRequests = 1000;
  settings.batch.timeout = 60;
  settings.batch.maxBodySize = 256 * 1024 * 1024;
  app.save(settings);
}, (app) => {
  for (const name of ["documentHashes", "syncRuns", ...[...SYNCED].reverse()]) {
    try {
      app.delete(app.findCollectionByNameOrId(name));
    } catch (e) {
      // already gone
    }
  }
});
