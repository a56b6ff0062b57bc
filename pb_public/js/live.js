// The live connection: PocketBase realtime (server-sent events) and an honest "live / offline" badge.
// The SDK reconnects by itself (200 ms growing to 2 s between attempts, forever) and resubmits the subscriptions;
// `onReconnect` then lets the page re-read what it may have missed while offline. There is no polling loop.
import { pb } from "./api.js";

const badge = () => document.getElementById("connection");

export function setConnection(state) {
  const node = badge();
  if (!node || node.dataset.state === state) return;
  node.dataset.state = state;
  node.textContent = { live: "live", offline: "offline", connecting: "connecting…" }[state];
  node.title = state === "offline" ? "The server cannot be reached; the page reconnects by itself." : "";
}

/**
 * Watch the realtime connection; `onReconnect` runs each time it comes back after a drop. The SDK retries a dropped
 * connection by itself, but not a first connection that failed: that one is retried here.
 */
export function watchConnection(onReconnect) {
  let dropped = false;
  pb.realtime.onDisconnect = (active) => {
    if (active.length) { // an interruption, not our own unsubscribe
      dropped = true;
      setConnection("offline");
    }
  };
  window.addEventListener("offline", () => setConnection("offline"));
  const connected = () => {
    setConnection("live");
    if (dropped) {
      dropped = false;
      onReconnect();
    }
  };
  const connect = () => pb.realtime.subscribe("PB_CONNECT", connected).catch(async () => {
    dropped = true;
    setConnection("offline");
    await pb.realtime.unsubscribe("PB_CONNECT").catch(() => {});
    setTimeout(connect, 2000);
  });
  connect();
}

/**
 * One subscription that can be pointed elsewhere: `follow(collection, filter, params, onEvent)` drops the
 * previous topic and subscribes to the new one (nothing when the filter did not change).
 */
export function retargetable() {
  let key = null;
  let unsubscribe = null;
  return async function follow(collection, filter, params, onEvent) {
    const next = filter ? `${collection}|${pb.filter(filter, params)}` : null;
    if (next === key) return;
    key = next;
    const previous = unsubscribe;
    unsubscribe = null;
    if (previous) await previous().catch(() => {});
    if (next) {
      try {
        unsubscribe = await pb.collection(collection).subscribe("*", onEvent, { filter: pb.filter(filter, params) });
      } catch (error) {
        key = null; // try again on the next call
        throw error;
      }
    }
  };
}

/** Run `task` now, or once more right after the run in flight: bursts of changes cost at most two reads. */
export function coalesced(task) {
  let running = null;
  let again = false;
  return function run() {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await task();
        } while (again);
      } finally {
        running = null;
      }
    })();
    return running;
  };
}
