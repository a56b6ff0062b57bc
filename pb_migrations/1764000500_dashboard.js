/// <reference path="../pb_data/types.d.ts" />
// A dashboard an admin can read: in every synced collection the meaningful fields come first (names, numbers,
// times, then relations) and fpvsync's identity and bookkeeping fields last (`externalId`, `created`, `updated`,
// `source`, `sourceId`, `extra`, `syncHash`); every collection a relation points at has a presentable field, so
// relation columns and pickers show "Race 3-2", "Round 3", "R1" or "lap 3 · 12.345 s" instead of ids.
//
// New display fields filled by fpvsync's mapping: `rounds.displayName` (the round's name, else FPVTrackside's
// "<EventType> Round <N>"), `channels.shortName` (FPVTrackside's band-and-channel text, "R1"), and
// `detections.displayName` ("lap 3 · 12.345 s").
//
// `syncRuns.event` becomes a relation to the event's record; the event's GUID stays readable in `eventId`, also
// for runs of events PocketBase never held and for events purged since.
//
// PocketBase 0.40 has no per-collection default sort a migration could set (the dashboard lists by insertion
// order and remembers a sort chosen by clicking a column header).

const SYNCED = [
  "channels", "pilots", "events", "stages", "rounds", "races",
  "pilotChannels", "detections", "laps", "gamePoints", "results",
];

// Fields shown first, in this order; fields not named here follow, grouped by kind.
const LEAD = {
  channels: ["shortName", "displayName", "band", "number", "frequency"],
  pilots: ["name", "firstName", "lastName", "phonetic", "sillyName"],
  events: ["name", "start", "end", "eventType", "laps", "raceLength", "club", "track"],
  stages: ["name", "order", "stageType", "event"],
  rounds: ["displayName", "name", "roundNumber", "order", "eventType", "scheduledStart", "event", "stage"],
  races: ["name", "raceNumber", "start", "end", "round", "event", "targetLaps", "bracket", "valid"],
  pilotChannels: ["pilot", "channel", "race", "event"],
  detections: ["displayName", "lapNumber", "time", "pilot", "channel", "race", "event"],
  laps: ["lapNumber", "lengthSeconds", "startTime", "endTime", "pilot", "race", "detection", "event"],
  gamePoints: ["time", "pilot", "channel", "race", "event"],
  results: ["position", "points", "time", "lapsFinished", "pilot", "race", "round", "event"],
};
const KIND_ORDER = ["text", "number", "date", "relation", "bool", "select", "json"];
const TAIL = ["externalId", "created", "updated", "source", "sourceId", "extra", "syncHash"];
const PRESENTABLE = {
  channels: "shortName", pilots: "name", events: "name", stages: "name", rounds: "displayName", races: "name",
  detections: "displayName",
};
const NEW_FIELDS = { channels: "shortName", rounds: "displayName", detections: "displayName" };

function reorder(collection, lead) {
  const fields = collection.fields;
  const kinds = KIND_ORDER.length;
  const rank = (field, index) => {
    const name = field.name;
    if (name === "id") return [-1, 0];
    if (lead.includes(name)) return [0, lead.indexOf(name)];
    if (TAIL.includes(name)) return [2 + kinds, TAIL.indexOf(name)];
    const kind = KIND_ORDER.indexOf(field.type());
    return [1 + (kind < 0 ? kinds : kind), index];
  };
  const ranked = [];
  for (let i = 0; i < fields.length; i++) {
    ranked.push({ field: fields[i], key: rank(fields[i], i) });
  }
  ranked.sort((a, b) => a.key[0] - b.key[0] || a.key[1] - b.key[1]);
  ranked.forEach((item, position) => fields.addAt(position, item.field));
}

migrate((app) => {
  for (const name of SYNCED) {
    const collection = app.findCollectionByNameOrId(name);
    const added = NEW_FIELDS[name];
    if (added && !collection.fields.getByName(added)) {
      collection.fields.add(new TextField({ name: added, max: 200 }));
    }
    for (const field of collection.fields) {
      field.presentable = field.name === PRESENTABLE[name];
    }
    reorder(collection, LEAD[name]);
    app.save(collection);
  }

  // syncRuns: keep the GUID as text in `eventId`, make `event` a relation to the event's record.
  const runs = app.findCollectionByNameOrId("syncRuns");
  runs.fields.getByName("event").name = "eventId";
  runs.indexes = [];
  app.save(runs);
  const events = app.findCollectionByNameOrId("events");
  runs.fields.addAt(2, new RelationField({
    name: "event", collectionId: events.id, maxSelect: 1, cascadeDelete: false, presentable: false,
  }));
  runs.fields.getByName("command").presentable = true;
  runs.indexes = [
    "CREATE INDEX idx_syncRuns_eventId_started ON syncRuns (eventId, startedAt)",
    "CREATE INDEX idx_syncRuns_event ON syncRuns (event)",
    "CREATE INDEX idx_syncRuns_started ON syncRuns (startedAt)",
  ];
  app.save(runs);
  app.db().newQuery(
    "UPDATE syncRuns SET event = COALESCE((SELECT events.id FROM events WHERE events.sourceId = syncRuns.eventId), '')",
  ).execute();
}, (app) => {
  const runs = app.findCollectionByNameOrId("syncRuns");
  runs.fields.removeByName("event");
  runs.indexes = [];
  app.save(runs);
  runs.fields.getByName("eventId").name = "event";
  runs.indexes = ["CREATE INDEX idx_syncRuns_event_started ON syncRuns (event, startedAt)"];
  app.save(runs);
  for (const name of SYNCED) {
    const collection = app.findCollectionByNameOrId(name);
    if (NEW_FIELDS[name]) collection.fields.removeByName(NEW_FIELDS[name]);
    for (const field of collection.fields) field.presentable = false;
    app.save(collection);
  }
});
