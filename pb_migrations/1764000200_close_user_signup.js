/// <reference path="../pb_data/types.d.ts" />
// PocketBase's default `users` auth collection lets anyone sign up (createRule ""). Nothing in fpvsync needs
// public accounts, so sign-up is closed: no collection of the database accepts a write from the public. An admin
// who wants sign-ups for a front end can reopen it in the dashboard (Collections > users > API rules).
migrate((app) => {
  let users;
  try {
    users = app.findCollectionByNameOrId("users");
  } catch (e) {
    return; // no default users collection: nothing to close
  }
  users.createRule = null;
  app.save(users);
}, (app) => {
  let users;
  try {
    users = app.findCollectionByNameOrId("users");
  } catch (e) {
    return;
  }
  users.createRule = "";
  app.save(users);
});
