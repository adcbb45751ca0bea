// The dashboard's script (docs/dashboard.md): fills the page from the JSON
// API and keeps it current from /api/events, without a reload. No library,
// no build step; every text goes in as text, never as HTML.
"use strict";

// Events come in bursts (a boot is dozens of transfers): they are gathered
// this long, then the affected phones are asked for once.
const GATHER_MS = 100;

const page = document.body.dataset.page;

function element(tag, text, className) {
  const made = document.createElement(tag);
  if (text !== undefined && text !== null) made.textContent = text;
  if (className) made.className = className;
  return made;
}

function cell(row, text, className) {
  return row.appendChild(element("td", text, className));
}

// The answer of an API route as JSON; its {error, fix} as an Error.
async function api(path, options) {
  const response = await fetch(path, { headers: { Accept: "application/json" }, ...options });
  const body = await response.json();
  if (!response.ok) throw new Error(`${body.error}: ${body.fix}`);
  return body;
}

// 00:18:B9:00:00:01 as the path of its page.
function phonePath(mac) {
  return `/phones/${mac.replaceAll(":", "")}`;
}

// The phone `mac`'s route in the API, with `rest` after it.
function phoneApi(mac, rest = "") {
  return `/api/phones/${mac.replaceAll(":", "")}${rest}`;
}

// The file `name` as phoneprov serves it to the phone `mac`, in the API.
function filePath(mac, name) {
  return phoneApi(mac, `/files/${name}`);
}

function withColons(hex) {
  return hex.toUpperCase().match(/../g).join(":");
}

// The phone an event is about, when the event says: a DHCP client's MAC,
// a SIP line's phone, a TFTP name with a MAC in it, or the one known phone
// at the TFTP client's address. Null when it cannot tell.
function affected(event, phones) {
  if (event.kind === "dhcp" && event.mac) return event.mac.toUpperCase();
  if (event.kind === "sip" && event.phone) return event.phone;
  if (event.kind === "tftp") {
    const named = /(?:SEP|SIP)([0-9A-F]{12})/i.exec(event.requested || "");
    if (named) return withColons(named[1]);
    const ip = String(event.client).replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
    const there = phones.filter((phone) => phone.address === ip);
    if (there.length === 1) return there[0].phone;
  }
  return null;
}

// Follows /api/events: `connected()` on each (re)connection, `seen(event)`
// for each event; the line under the title says whether it is following.
function listen(connected, seen) {
  const live = document.getElementById("live");
  const source = new EventSource("/api/events");
  source.onopen = () => {
    live.textContent = "live: following phoneprov's events";
    connected();
  };
  source.onerror = () => {
    live.textContent = "not following phoneprov's events now; reconnecting…";
  };
  source.onmessage = (message) => seen(JSON.parse(message.data));
}

// Calls `refresh(macs, all)` once per burst of events: the MACs the burst
// named, and whether one was about a phone it could not tell.
function follow(phones, refresh) {
  const named = new Set();
  let all = false;
  let timer = null;
  // On each connection: whatever happened while not following.
  listen(() => refresh(new Set(), true), (event) => {
    const mac = affected(event, phones());
    if (mac) named.add(mac);
    else all = true;
    if (timer !== null) return;
    timer = setTimeout(() => {
      const macs = new Set(named);
      const everything = all;
      named.clear();
      all = false;
      timer = null;
      refresh(macs, everything);
    }, GATHER_MS);
  });
}

function ago(seconds) {
  if (seconds === null || seconds === undefined) return "never";
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  return `${Math.floor(seconds / 3600)} h ago`;
}

function registration(phone) {
  return phone.lines.length ? `registered: ${phone.lines.join(", ")}` : "not registered";
}

// Each problem in words, with its fix below.
function problems(container, findings) {
  if (!findings.length) {
    container.append("none");
    return;
  }
  for (const finding of findings) {
    const said = container.appendChild(element("div", finding.problem, "problem"));
    said.appendChild(element("span", `Fix: ${finding.fix}`, "fix"));
  }
}

// ---------------------------------------------------------------------------
// `/`: the phones

// A row of the table; a discovered phone's has an Adopt button calling
// `adopt(phone)`.
function phoneRow(phone, adopt) {
  const row = element("tr");
  row.dataset.mac = phone.phone;
  const mac = cell(row, null, "mac");
  mac.appendChild(element("a", phone.phone)).href = phonePath(phone.phone);
  cell(row, phone.model || "unknown");
  const description = cell(row, phone.listed === null ? "(not listed) " : phone.listed);
  if (phone.listed === null) {
    const button = description.appendChild(element("button", "Adopt"));
    button.type = "button";
    button.addEventListener("click", () => adopt(phone));
  }
  cell(row, phone.address || "none");
  const stage = cell(row, null, "stage");
  stage.appendChild(element("span", phone.stage, "stage-text"));
  if (phone.ladder) stage.appendChild(element("span", phone.ladder, "ladder"));
  cell(row, phone.firmware || "unknown");
  cell(row, registration(phone));
  cell(row, ago(phone.last_seen), "seen");
  problems(cell(row, null, "problems"), phone.findings);
  return row;
}

function phonesPage() {
  // Every phone by MAC, in the order the API gave them.
  const phones = new Map();
  const render = () => {
    const listed = [];
    const discovered = [];
    for (const phone of phones.values()) {
      (phone.listed === null ? discovered : listed).push(phoneRow(phone, adopt));
    }
    // Each group keeps its heading row.
    for (const [id, rows] of [["listed", listed], ["discovered", discovered]]) {
      const group = document.getElementById(id);
      group.replaceChildren(group.rows[0], ...rows);
    }
  };
  const refresh = async (macs, all) => {
    const live = document.getElementById("live");
    try {
      if (all || [...macs].some((mac) => !phones.has(mac))) {
        phones.clear();
        for (const phone of (await api("/api/phones")).phones) phones.set(phone.phone, phone);
      } else {
        for (const mac of macs) phones.set(mac, (await api(`/api/phones/${mac}`)).phone);
      }
      render();
    } catch (error) {
      live.textContent = error.message;
    }
  };
  const adopt = adoptDialog(phones, refresh);
  follow(() => [...phones.values()], refresh);
}

// serve looks at phoneprov.toml every 2 s: the page asks for the phones
// this often, this many times, until an adopted phone is listed.
const RELOAD_POLL_MS = 500;
const RELOAD_TRIES = 20;

// The Adopt dialog of `/` (model and description): adds a discovered phone
// to phoneprov.toml, then asks for the phones until serve has reloaded the
// file and lists it. Returns what opens it for a phone.
function adoptDialog(phones, refresh) {
  const dialog = document.getElementById("adopt");
  const form = dialog.querySelector("form");
  const error = document.getElementById("adopt-error");
  const said = document.getElementById("adopted");
  let mac = null;
  const listedSoon = async (adopted) => {
    said.textContent = `${adopted} added to phoneprov.toml; waiting for phoneprov serve to reload it…`;
    for (let tries = 0; tries < RELOAD_TRIES; tries += 1) {
      await new Promise((resolve) => setTimeout(resolve, RELOAD_POLL_MS));
      await refresh(new Set(), true);
      const now = phones.get(adopted);
      if (now && now.listed !== null) {
        said.textContent = `${adopted} is in phoneprov.toml now.`;
        return;
      }
    }
    said.textContent = `${adopted} is not listed yet: phoneprov serve's output says why (a mistake in phoneprov.toml?)`;
  };
  document.getElementById("adopt-cancel").addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    error.textContent = "";
    try {
      await api(`/api/discovered/${mac.replaceAll(":", "")}/adopt`, {
        method: "POST",
        headers: { Accept: "application/json", "Content-Type": "application/json" },
        body: JSON.stringify({ model: form.elements.model.value, description: form.elements.description.value }),
      });
      dialog.close();
      listedSoon(mac);
    } catch (failure) {
      error.textContent = failure.message;
    } finally {
      button.disabled = false;
    }
  });
  return (phone) => {
    mac = phone.phone;
    document.getElementById("adopt-mac").textContent = mac;
    form.elements.model.value = phone.model === "7940" ? "7940" : "7960";
    form.elements.description.value = "";
    error.textContent = "";
    dialog.showModal();
  };
}

// ---------------------------------------------------------------------------
// `/phones/{mac}`: one phone

const KIND = {
  address: "DHCP",
  other_dhcp_server: "DHCP",
  fetch: "TFTP",
  other_case: "TFTP",
  registered: "SIP",
  auth_failed: "SIP",
  started_over: "mark",
};

const GOT = { sent: "sent", not_found: "not found", failed: "FAILED" };

function time(at) {
  return new Date(at).toISOString().slice(11, 23);
}

function summary(phone) {
  const list = document.getElementById("summary");
  const pairs = [
    ["Model", phone.model || "unknown"],
    ["Description", phone.listed === null ? "not in phoneprov.toml (discovered)" : phone.listed || "none"],
    ["IP", phone.address || "none"],
    ["Stage", phone.stage],
    ["Ladder", phone.ladder || "no target"],
    ["Firmware", phone.firmware || "unknown"],
    ["Registration", registration(phone)],
    ["Last seen", ago(phone.last_seen)],
  ];
  const items = pairs.flatMap(([term, value]) => [element("dt", term), element("dd", value)]);
  const found = element("dd");
  problems(found, phone.findings);
  list.replaceChildren(...items, element("dt", "Problems"), found);
}

function ladder(plan) {
  const box = document.getElementById("ladder");
  if (!plan) {
    box.replaceChildren(element("p", "No plan: this phone is not in phoneprov.toml, or has no target firmware."));
    return;
  }
  const parts = [element("p", `Target ${plan.target}; it ${plan.runs}.`)];
  if (plan.rungs.length) {
    parts.push(element("p", "One load a boot, the next first:"));
    const steps = element("ol");
    for (const rung of plan.rungs) {
      steps.appendChild(element("li", `${rung.load} (${rung.protocol} ${rung.version})`));
    }
    parts.push(steps);
  } else if (!plan.stop) {
    parts.push(element("p", "Nothing left to load: it is at its target."));
  }
  if (plan.stop) {
    const stop = element("div");
    problems(stop, [plan.stop]);
    parts.push(stop);
  }
  box.replaceChildren(...parts);
}

// Each file it asked for: how often, and what the last request got; a
// miss it goes on without is grey with why, another is red.
function files(mac, asked) {
  const rows = asked.map((file) => {
    const missed = file.normal_miss ? "expected" : "missing";
    const row = element("tr", null, file.outcome === "sent" ? "" : missed);
    const link = cell(row, null, "mac").appendChild(element("a", file.name));
    link.href = filePath(mac, file.name);
    link.title = "the file as phoneprov serves it to this phone now";
    cell(row, String(file.times));
    const answer = cell(row, GOT[file.outcome], "answer");
    if (file.normal_miss) answer.appendChild(element("span", file.normal_miss, "why"));
    return row;
  });
  document.querySelector("#files tbody").replaceChildren(...rows);
}

// Each file phoneprov generates for the phone, collapsed; opening one asks
// for it as phoneprov would send it now. Made once, so an open one stays
// open while the page follows the events.
function previews(mac, names) {
  const box = document.getElementById("preview");
  if (box.childElementCount) return;
  for (const name of names) {
    const details = box.appendChild(element("details"));
    details.appendChild(element("summary", name));
    const text = details.appendChild(element("pre", "asking phoneprov…"));
    details.addEventListener("toggle", async () => {
      if (!details.open) return;
      try {
        const response = await fetch(filePath(mac, name));
        if (response.ok) {
          text.textContent = await response.text();
          text.className = "";
        } else {
          const body = await response.json();
          text.textContent = `${body.error}: ${body.fix}`;
          text.className = "problem";
        }
      } catch (failure) {
        text.textContent = failure.message;
        text.className = "problem";
      }
    });
  }
}

function timelineRows(timeline) {
  const rows = timeline.map((moment) => {
    const row = element("tr", null, moment.seen.seen === "started_over" ? "mark" : "");
    cell(row, time(moment.at), "time");
    cell(row, KIND[moment.seen.seen] || moment.seen.seen);
    cell(row, moment.what, "what");
    return row;
  });
  document.querySelector("#timeline tbody").replaceChildren(...rows);
}

// A reboot's answer in one line: the new SYNC, then each phone's.
function rebootedSaid(rebooted) {
  const each = rebooted.phones.map((phone) => `${phone.phone}: ${phone.outcome}`);
  return `new SYNC ${rebooted.sync}. ${each.join("; ")}`;
}

// The button `id` does `act()` once `question` (if any) is confirmed,
// disabled meanwhile; the element `saidId` shows `doing`, then the words
// `act` resolves to, or why it failed.
function action(id, saidId, doing, act, question) {
  const button = document.getElementById(id);
  const said = document.getElementById(saidId);
  button.addEventListener("click", async () => {
    if (question && !window.confirm(question)) return;
    button.disabled = true;
    said.textContent = doing;
    try {
      said.textContent = await act();
    } catch (error) {
      said.textContent = error.message;
    } finally {
      button.disabled = false;
    }
  });
}

function rebootButton(mac) {
  action("reboot", "rebooted", "sending check-sync…", async () =>
    rebootedSaid(await api(phoneApi(mac, "/reboot"), { method: "POST" })),
  );
}

function reprovisionButton(mac) {
  const question =
    `Re-provision ${mac}?\n\n` +
    "phoneprov judges it afresh from now on: its stage, problems and firmware count only what it does next. " +
    "Its timeline is kept, with a mark where this happened. " +
    "A phone of phoneprov.toml is rebooted (check-sync) to fetch its files again.";
  action(
    "reprovision",
    "reprovisioned",
    "re-provisioning…",
    async () => {
      const answer = await api(phoneApi(mac, "/reprovision"), { method: "POST" });
      return answer.rebooted ? `${answer.outcome}. ${rebootedSaid(answer.rebooted)}` : answer.outcome;
    },
    question,
  );
}

function onePhonePage() {
  const mac = document.querySelector("article[data-mac]").dataset.mac;
  let shown = null;
  const refresh = async (macs, all) => {
    if (!all && !macs.has(mac)) return;
    const error = document.getElementById("error");
    try {
      const answer = await api(phoneApi(mac));
      shown = answer.phone;
      error.hidden = true;
      summary(answer.phone);
      ladder(answer.plan);
      files(mac, answer.asked);
      previews(mac, answer.files);
      timelineRows(answer.timeline);
    } catch (failure) {
      error.textContent = failure.message;
      error.hidden = false;
    }
  };
  rebootButton(mac);
  reprovisionButton(mac);
  follow(() => (shown ? [shown] : []), refresh);
}

// ---------------------------------------------------------------------------
// The listings: `/firmware`, `/leases`, `/registrations`, `/log`

// Says what went wrong above the page's content; hides it when `message`
// is null.
function failed(message) {
  const error = document.getElementById("error");
  error.textContent = message;
  error.hidden = message === null;
}

// Fills the table `id` with one row per item, a cell per column.
function fillTable(id, items, columns) {
  const rows = items.map((item) => {
    const row = element("tr");
    for (const column of columns) {
      const value = column(item, row);
      if (value instanceof Node) row.appendChild(element("td")).appendChild(value);
      else cell(row, value);
    }
    return row;
  });
  document.querySelector(`#${id} tbody`).replaceChildren(...rows);
}

// Lines of text in one element, one a line.
function lines(texts) {
  const box = element("div");
  for (const text of texts) box.appendChild(element("div", text));
  return box;
}

function bytes(size) {
  return `${size.toLocaleString("en")} B`;
}

// A listing asked again from `route` once per burst of `kind` events.
function table(route, kind, fill) {
  const refresh = async () => {
    try {
      fill(await api(route));
      failed(null);
    } catch (error) {
      failed(error.message);
    }
  };
  let timer = null;
  listen(refresh, (event) => {
    if (event.kind !== kind || timer !== null) return;
    timer = setTimeout(() => {
      timer = null;
      refresh();
    }, GATHER_MS);
  });
}

function leasesPage() {
  table("/api/leases", "dhcp", (answer) =>
    fillTable("leases", answer.leases, [
      (lease, row) => {
        row.dataset.mac = lease.mac.toUpperCase();
        return lease.mac.toUpperCase();
      },
      (lease) => lease.ip,
      (lease) => lease.state,
      (lease) => new Date(lease.expires).toISOString().slice(0, 19).replace("T", " "),
      (lease) => lease.hostname || "",
      (lease) => lease.vendor_class || "",
      (lease) => (lease.listed === null ? "(not listed)" : lease.listed || "listed"),
    ]),
  );
}

function registrationsPage() {
  table("/api/registrations", "sip", (answer) =>
    fillTable("registrations", answer.registrations, [
      (contact, row) => {
        row.dataset.line = contact.line;
        return contact.line;
      },
      (contact) => contact.phone || "unknown",
      (contact) => contact.contact,
      (contact) => contact.source,
      (contact) => `${contact.expires_in} s`,
      (contact) => contact.model || "",
      (contact) => contact.user_agent || "",
    ]),
  );
}

// ---------------------------------------------------------------------------
// `/firmware`: the loads, and import by upload

function loadStatus(load) {
  const status = load.complete ? "complete" : `missing ${load.missing.join(", ")}`;
  const box = element("div", load.loader ? `${status} (loader ${load.loader})` : status);
  for (const warning of load.warnings) box.appendChild(element("div", `warning: ${warning}`, "problem"));
  return box;
}

async function showCatalog() {
  try {
    const catalog = await api("/api/firmware");
    document.getElementById("folder").textContent = `In ${catalog.dir}:`;
    fillTable("loads", catalog.loads, [
      (load, row) => {
        row.dataset.load = load.name;
        row.className = load.complete && !load.warnings.length ? "" : "missing";
        return load.name;
      },
      (load) => load.protocol,
      (load) => load.version,
      (load) => (load.signed ? "yes" : "no"),
      loadStatus,
      (load) => lines(load.files.map((file) => `${file.name} ${bytes(file.size)}`)),
    ]);
    fillTable("others", catalog.other_files, [
      (file) => file.name,
      (file) => bytes(file.size),
      (file) => file.note || "",
    ]);
    failed(null);
  } catch (error) {
    failed(error.message);
  }
}

// Sends `file` as the body of POST /api/firmware/import, drawing the
// upload's progress; resolves to the answer's JSON and whether it is a
// success.
function upload(file, force) {
  const progress = document.getElementById("progress");
  const percent = document.getElementById("percent");
  const show = (done) => {
    progress.value = done;
    percent.textContent = `${done}%`;
  };
  show(0);
  document.getElementById("upload").hidden = false;
  return new Promise((resolve) => {
    const request = new XMLHttpRequest();
    const name = encodeURIComponent(file.name);
    request.open("POST", `/api/firmware/import?name=${name}${force ? "&force=true" : ""}`);
    request.setRequestHeader("Content-Type", "application/octet-stream");
    request.setRequestHeader("Accept", "application/json");
    request.responseType = "json";
    request.upload.onprogress = (progressed) => {
      if (progressed.lengthComputable) show(Math.floor((100 * progressed.loaded) / progressed.total));
    };
    request.upload.onload = () => show(100);
    request.onload = () => resolve({ ok: request.status < 300, body: request.response });
    request.onerror = () =>
      resolve({
        ok: false,
        body: { error: "the upload broke off", fix: "check that phoneprov serve still runs, then import again" },
      });
    request.send(file);
  });
}

function importForm() {
  const form = document.getElementById("import");
  const said = document.getElementById("imported");
  const files = document.getElementById("imported-files");
  form.addEventListener("submit", async (submitted) => {
    submitted.preventDefault();
    const file = document.getElementById("package").files[0];
    const button = form.querySelector("button");
    button.disabled = true;
    said.className = "";
    said.textContent = `sending ${file.name}…`;
    files.hidden = true;
    const answer = await upload(file, document.getElementById("force").checked);
    button.disabled = false;
    if (!answer.ok) {
      said.className = "problem";
      said.textContent = `${answer.body.error}. Fix: ${answer.body.fix}`;
      return;
    }
    const taken = answer.body.files.filter((imported) => imported.outcome !== "skipped").length;
    said.textContent = `${file.name}: ${taken} of ${answer.body.files.length} files taken.`;
    fillTable("imported-files", answer.body.files, [
      (imported) => imported.name,
      (imported) => bytes(imported.size),
      (imported) => imported.said,
    ]);
    files.hidden = false;
    await showCatalog();
  });
}

function firmwarePage() {
  document.getElementById("live").textContent =
    "read when the page opens and after each import";
  importForm();
  showCatalog();
}

// ---------------------------------------------------------------------------
// `/log`: every event since the page opened, as phoneprov serve prints it

const LOG_KEPT = 500;

function logPage() {
  const log = document.getElementById("log");
  listen(
    () => {},
    (event) => {
      // What phoneprov serve prints for it; nothing for other devices' DHCP.
      if (event.text === null) return;
      log.appendChild(element("li", `${time(event.at)} ${event.text}`, event.kind));
      while (log.children.length > LOG_KEPT) log.firstElementChild.remove();
      log.lastElementChild.scrollIntoView({ block: "nearest" });
    },
  );
}

// ---------------------------------------------------------------------------
// `/doctor`: the findings of `phoneprov doctor`

// How long to collect other DHCP servers' offers, as `phoneprov doctor`.
const DHCP_LOOK_SECONDS = 4;
const LEVEL = { ok: "OK", warning: "WARNING", problem: "PROBLEM" };

function doctorPage() {
  const summary = document.getElementById("doctor-summary");
  const look = document.getElementById("look-for-dhcp");
  const examine = async (query, doing) => {
    summary.textContent = doing;
    look.disabled = true;
    try {
      const { findings } = await api(`/api/doctor${query}`);
      fillTable("findings", findings, [
        (finding, row) => {
          row.className = finding.level;
          row.dataset.check = finding.check;
          return LEVEL[finding.level];
        },
        (finding) => finding.check,
        (finding) => finding.what,
        (finding) => finding.fix || "",
      ]);
      const count = (level) => findings.filter((finding) => finding.level === level).length;
      summary.textContent = `${count("problem")} problem(s), ${count("warning")} warning(s)`;
      failed(null);
    } catch (error) {
      summary.textContent = "";
      failed(error.message);
    }
    look.disabled = false;
  };
  look.addEventListener("click", () =>
    examine(`?look_for_dhcp=${DHCP_LOOK_SECONDS}`, `looking for DHCP servers for ${DHCP_LOOK_SECONDS} s…`),
  );
  listen(
    () => {},
    () => {},
  );
  examine("", "checking…");
}

const PAGES = {
  phones: phonesPage,
  phone: onePhonePage,
  firmware: firmwarePage,
  leases: leasesPage,
  registrations: registrationsPage,
  log: logPage,
  doctor: doctorPage,
};
PAGES[page]();
