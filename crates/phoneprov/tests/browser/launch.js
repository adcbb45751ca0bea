// Starts Debian's chromium headless for the dashboard's tests (no browser
// download): names resolve to nothing, so a page may reach the loopback
// only. `watch(page)` notes each request elsewhere and each script error.
"use strict";

const { chromium } = require("playwright-core");

function launch() {
  return chromium.launch({
    executablePath: process.env.PHONEPROV_CHROMIUM || "/usr/bin/chromium",
    args: [
      ...(process.getuid() === 0 ? ["--no-sandbox"] : []),
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    ],
  });
}

// The requests a page made beyond 127.0.0.1, and its script errors.
function watch(page, elsewhere, problems) {
  page.on("request", (request) => {
    if (new URL(request.url()).hostname !== "127.0.0.1") elsewhere.push(request.url());
  });
  page.on("pageerror", (error) => problems.push(String(error)));
}

// Runs `main`; any failure exits non-zero with the reason on stderr.
function run(main) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}

module.exports = { launch, watch, run };
