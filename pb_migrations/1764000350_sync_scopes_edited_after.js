/// <reference path="../pb_data/types.d.ts" />
// syncScopes.editedAfter: the PocketBase time after which a change to one of the scope's records was made behind
// fpvsync's back (an admin edit in the dashboard). Empty: the record's own `updated`, i.e. the scope was last
// compared with PocketBase (and repaired) right before this state was stored. Set when a state is stored without
// comparing the scope's records (a partial command, a race whose records were only re-derived), so that an edit
// made before such a store is still found. See docs/state.md.
migrate((app) => {
  const collection = app.findCollectionByNameOrId("syncScopes");
  collection.fields.add(new DateField({ name: "editedAfter" }));
  app.save(collection);
}, (app) => {
  const collection = app.findCollectionByNameOrId("syncScopes");
  collection.fields.removeByName("editedAfter");
  app.save(collection);
});
