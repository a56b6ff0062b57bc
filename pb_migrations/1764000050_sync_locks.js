/// <reference path="../pb_data/types.d.ts" />
// syncLocks: one record per event while a live-mirror pass writes to it, so that overlapping `fpvsync poll`
// runs (cron on one or several machines) never write at the same time. The record id is computed from the lock
// name, so creating it is the atomic "acquire". Superuser-only.
migrate((app) => {
  const collection = new Collection({
    type: "base",
    name: "syncLocks",
    listRule: null,
    viewRule: null,
    createRule: null,
    updateRule: null,
    deleteRule: null,
    fields: [
      { type: "text", name: "name", required: true, max: 200 },
      { type: "text", name: "holder", max: 200 },
      { type: "date", name: "acquiredAt" },
      { type: "date", name: "expiresAt" },
      { type: "autodate", name: "created", onCreate: true, onUpdate: false },
      { type: "autodate", name: "updated", onCreate: true, onUpdate: true },
    ],
    indexes: ["CREATE UNIQUE INDEX idx_syncLocks_name ON syncLocks (name)"],
  });
  app.save(collection);
}, (app) => {
  try {
    app.delete(app.findCollectionByNameOrId("syncLocks"));
  } catch (e) {
    // already gone
  }
});
