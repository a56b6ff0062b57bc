/// <reference path="../pb_data/types.d.ts" />
// eventState: one record per event (its id = the event's record id), the "now / next" that front ends subscribe
// to over PocketBase realtime. View collections send no realtime events, so a front end watches `changeSeq` here
// and re-reads the views when it moves. fpvsync bumps `changeSeq` in the same run as any write for that event,
// never on an idle pass. Public read, superuser write.
migrate((app) => {
  const events = app.findCollectionByNameOrId("events");
  const races = app.findCollectionByNameOrId("races");
  const collection = new Collection({
    type: "base",
    name: "eventState",
    listRule: "",
    viewRule: "",
    createRule: null,
    updateRule: null,
    deleteRule: null,
    fields: [
      { type: "relation", name: "event", collectionId: events.id, maxSelect: 1, cascadeDelete: true },
      { type: "relation", name: "currentRace", collectionId: races.id, maxSelect: 1, cascadeDelete: false },
      { type: "relation", name: "nextRace", collectionId: races.id, maxSelect: 1, cascadeDelete: false },
      // idle | armed | running | ended
      { type: "text", name: "raceState", max: 32 },
      { type: "date", name: "raceStartedAt" },
      { type: "number", name: "changeSeq", onlyInt: true },
      { type: "date", name: "changedAt" },
      { type: "json", name: "changedCollections", maxSize: 0 },
      { type: "autodate", name: "created", onCreate: true, onUpdate: false },
      { type: "autodate", name: "updated", onCreate: true, onUpdate: true },
    ],
    indexes: ["CREATE UNIQUE INDEX idx_eventState_event ON eventState (event)"],
  });
  app.save(collection);
}, (app) => {
  try {
    app.delete(app.findCollectionByNameOrId("eventState"));
  } catch (e) {
    // already gone
  }
});
