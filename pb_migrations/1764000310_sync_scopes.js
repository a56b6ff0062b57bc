/// <reference path="../pb_data/types.d.ts" />
// syncScopes: fpvsync's state, one record per (event, scope). A stored fingerprint means "PocketBase holds exactly
// what these inputs produce" (see docs/state.md); it replaces documentHashes, which only said "this document was
// fetched". Superuser-only.
migrate((app) => {
  const collection = new Collection({
    type: "base",
    name: "syncScopes",
    listRule: null,
    viewRule: null,
    createRule: null,
    updateRule: null,
    deleteRule: null,
    fields: [
      // The event's FPVTrackside GUID.
      { type: "text", name: "event", required: true, max: 64 },
      // "event", "pilots", "channels", "results" or "race/{raceId}".
      { type: "text", name: "scope", required: true, max: 200 },
      // Digest of the records PocketBase must hold for this scope; "" while only part of it was written.
      { type: "text", name: "fingerprint", max: 64 },
      // Digest of what the scope's records were mapped with (rounds, pilots, channels, zone, mapping version).
      { type: "text", name: "context", max: 64 },
      // Content hash of each source document the scope was last applied from: path -> sha256.
      { type: "json", name: "inputs", maxSize: 0 },
      // When the fingerprint was last established by writing or comparing with PocketBase.
      { type: "date", name: "verifiedAt" },
      // When the scope's source documents last changed, as seen by the live mirror ("" : settled since).
      { type: "date", name: "changedAt" },
      { type: "autodate", name: "created", onCreate: true, onUpdate: false },
      { type: "autodate", name: "updated", onCreate: true, onUpdate: true },
    ],
    indexes: [
      "CREATE UNIQUE INDEX idx_syncScopes_event_scope ON syncScopes (event, scope)",
    ],
  });
  app.save(collection);
  try {
    app.delete(app.findCollectionByNameOrId("documentHashes"));
  } catch (e) {
    // already gone
  }
}, (app) => {
  try {
    app.delete(app.findCollectionByNameOrId("syncScopes"));
  } catch (e) {
    // already gone
  }
});
