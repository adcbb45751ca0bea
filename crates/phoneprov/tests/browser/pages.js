// Drives the dashboard's firmware, leases, registrations and log pages in
// Debian's chromium, for crates/phoneprov/tests/it/dashboard.rs:
//
//   node pages.js URL SCREENSHOT_DIR PACKAGE
//
// Uploads PACKAGE (Cisco's zip of P0S3-8-12-00) on /firmware and waits for
// its progress bar to reach 100% and the load to be listed complete, and
// reads /doctor's findings. Then opens /log, /leases and /registrations, each in its own tab, and says
// `watching`; the test boots the Reception phone, and each tab shows it
// without a reload. Prints `result JSON`. Any failure exits non-zero with
// the reason on stderr.
"use strict";

const path = require("node:path");
const { launch, watch, run } = require("./launch.js");

const [url, shots, pkg] = process.argv.slice(2);
const RECEPTION = "00:18:B9:00:00:01";
const LOAD = "P0S3-8-12-00";
// Against hangs only: each wait ends as soon as the page is there.
const WAIT = { timeout: 60000 };

async function main() {
  const browser = await launch();
  try {
    const elsewhere = [];
    const problems = [];
    const open = async (route) => {
      const page = await browser.newPage({ viewport: { width: 1400, height: 800 } });
      watch(page, elsewhere, problems);
      await page.goto(`${url}${route}`);
      return page;
    };
    const shoot = (page, name) => page.screenshot({ path: path.join(shots, name), fullPage: true });

    const firmware = await open("/firmware");
    const before = await firmware.locator("#loads tbody tr").count();
    // Every value the progress bar shows.
    await firmware.evaluate(() => {
      window.progressSeen = [];
      const bar = document.getElementById("progress");
      new MutationObserver(() => window.progressSeen.push(bar.value)).observe(
        document.getElementById("percent"),
        { childList: true, characterData: true, subtree: true },
      );
    });
    await firmware.setInputFiles("#package", pkg);
    await firmware.getByRole("button", { name: "Import" }).click();
    await firmware.locator("#percent", { hasText: "100%" }).waitFor(WAIT);
    const imported = await firmware.locator("#imported", { hasText: "files taken" }).textContent(WAIT);
    const row = firmware.locator(`#loads tr[data-load="${LOAD}"]`);
    await row.waitFor(WAIT);
    const status = await row.locator("td").nth(4).textContent();
    const outcomes = await firmware.locator("#imported-files tbody td:nth-child(3)").allTextContents();
    const progress = await firmware.evaluate(() => [...window.progressSeen, document.getElementById("progress").value]);
    await shoot(firmware, "firmware.png");

    // The doctor's checks, with the load just imported among them.
    const doctor = await open("/doctor");
    await doctor.locator("#doctor-summary", { hasText: "warning" }).waitFor(WAIT);
    const findings = await doctor.locator("#findings tbody tr").evaluateAll((rows) =>
      rows.map((row) => [...row.cells].map((cell) => cell.textContent)),
    );
    await shoot(doctor, "doctor.png");

    const log = await open("/log");
    const leases = await open("/leases");
    const registrations = await open("/registrations");
    for (const page of [log, leases, registrations]) {
      await page.locator("#live", { hasText: "live:" }).waitFor(WAIT);
      await page.evaluate(() => {
        window.notReloaded = true;
      });
    }
    console.log("watching");

    await log.locator("#log li", { hasText: `${RECEPTION}  SIP registered 1001` }).first().waitFor(WAIT);
    const logged = await log.locator("#log li").allTextContents();
    await shoot(log, "log.png");
    const lease = leases.locator(`#leases tr[data-mac="${RECEPTION}"]`);
    await lease.waitFor(WAIT);
    const leased = await lease.locator("td").allTextContents();
    await shoot(leases, "leases.png");
    const contact = registrations.locator('#registrations tr[data-line="1001"]');
    await contact.waitFor(WAIT);
    const registered = await contact.locator("td").allTextContents();
    await shoot(registrations, "registrations.png");
    const reloaded = [];
    for (const page of [log, leases, registrations]) {
      if (!(await page.evaluate(() => window.notReloaded === true))) reloaded.push(page.url());
    }

    console.log(
      `result ${JSON.stringify({ before, progress, imported, status, outcomes, findings, logged, leased, registered, reloaded, elsewhere, problems })}`,
    );
  } finally {
    await browser.close();
  }
}

run(main);
