// Small DOM and formatting helpers. Everything from the database goes through textContent, never innerHTML:
// pilot and race names are whatever the timing laptop was given.

/** Build an element: h("td", {class: "num"}, "12.3", otherNode). Attributes starting with "on" are listeners. */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "style") node.style.cssText = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Replace a container's content. */
export function show(container, ...children) {
  container.replaceChildren(...children.flat().filter((child) => child !== null && child !== undefined));
}

/** Seconds as FPVTrackside shows lap times: "23.456", "1:02.345"; empty for none. */
export function seconds(value) {
  if (value === null || value === undefined || value === "" || !(Number(value) > 0)) return "";
  const total = Number(value);
  const minutes = Math.floor(total / 60);
  const rest = (total - minutes * 60).toFixed(3);
  return minutes > 0 ? `${minutes}:${rest.padStart(6, "0")}` : rest;
}

/** A PocketBase date ("2025-05-03 08:13:52.089Z") as local wall-clock time, or "". */
export function clock(value) {
  if (!value) return "";
  const date = new Date(value.replace(" ", "T"));
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** A channel chip: the event's colour as a swatch and the channel's short name. */
export function channelChip(info) {
  if (!info) return h("span", { class: "empty" }, "–");
  return h("span", { class: "channel", style: `--swatch: ${safeColour(info.color)}`, title: info.band || "" },
    info.displayName || "");
}

function safeColour(colour) {
  return /^#[0-9a-fA-F]{3,8}$/.test(colour || "") ? colour : "transparent";
}

/** A pilot's name as the event shows it. */
export function pilotName(pilot) {
  return pilot ? pilot.name || [pilot.firstName, pilot.lastName].filter(Boolean).join(" ") || "?" : "?";
}

// -- sortable tables ---------------------------------------------------------------------------------------------

const sortState = new Map(); // table id -> {key, dir}: a user's choice survives live re-renders

/**
 * A table whose column headers sort it. columns: [{key, label, num?, value(row), cell?(row)}]; value gives the sort
 * key (null/undefined/"" always sort last), cell what is shown (defaults to the value).
 */
export function sortableTable(id, columns, rows, defaultSort) {
  const chosen = sortState.get(id) || defaultSort;
  const column = columns.find((c) => c.key === chosen.key) || columns[0];
  const direction = chosen.dir === "desc" ? -1 : 1;
  const sorted = [...rows].sort((a, b) => compare(column.value(a), column.value(b), direction));
  const head = columns.map((c) => {
    const sort = c.key === column.key ? (direction === 1 ? "ascending" : "descending") : "none";
    const click = () => {
      const dir = c.key === column.key && direction === 1 ? "desc" : "asc";
      sortState.set(id, { key: c.key, dir });
      table.replaceWith(sortableTable(id, columns, rows, defaultSort));
    };
    return h("th", { class: c.num ? "num" : null, "aria-sort": sort, scope: "col" },
      h("button", { type: "button", onclick: click }, c.label));
  });
  const body = sorted.map((row) =>
    h("tr", { "data-id": row.id }, columns.map((c) => {
      const content = c.cell ? c.cell(row) : c.value(row);
      return h("td", { class: c.num ? "num" : null }, content ?? "");
    })),
  );
  const table = h("div", { class: "table-wrap", id },
    h("table", {}, h("thead", {}, h("tr", {}, head)), h("tbody", {}, body)));
  return table;
}

function compare(a, b, direction) {
  const missingA = a === null || a === undefined || a === "";
  const missingB = b === null || b === undefined || b === "";
  if (missingA || missingB) return missingA === missingB ? 0 : missingA ? 1 : -1;
  if (typeof a === "number" && typeof b === "number") return (a - b) * direction;
  return String(a).localeCompare(String(b), undefined, { numeric: true, sensitivity: "base" }) * direction;
}
