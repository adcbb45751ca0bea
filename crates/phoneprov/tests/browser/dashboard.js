// Drives phoneprov's dashboard in Debian's chromium (playwright-core, no
// browser download), for crates/phoneprov/tests/it/dashboard.rs:
//
//   node dashboard.js URL SCREENSHOT_DIR
//
// Says `watching` once `/` shows the Reception phone not seen yet; the test
// then asks for a file as an unlisted phone and boots the Reception phone.
// This script sees both appear on the page without a reload, opens the
// phone, reads its timeline and files, presses reboot, opens the preview of
// its SIP<MAC>.cnf, presses re-provision (accepting its question) and sees
// the answer and the mark in the timeline, then adopts the discovered phone
// on `/` and sees it move to the listed phones, and prints `result JSON`.
// Any failure exits non-zero with the reason on stderr.
"use strict";

const path = require("node:path");
const { launch, watch, run } = require("./launch.js");

const [url, shots] = process.argv.slice(2);
const RECEPTION = "00:18:B9:00:00:01";
const DISCOVERED = "00:18:B9:00:00:AA";
const REGISTERED = "SIP firmware running and registered";
// Against hangs only: each wait ends as soon as the page is there.
const WAIT = { timeout: 60000 };

async function main() {
  const browser = await launch();
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 800 } });
    const elsewhere = [];
    const problems = [];
    watch(page, elsewhere, problems);

    await page.goto(`${url}/`);
    const row = page.locator(`#listed tr[data-mac="${RECEPTION}"]`);
    const stage = row.locator(".stage-text");
    await page.waitForFunction(
      (mac) => document.querySelector(`#listed tr[data-mac="${mac}"] .stage-text`)?.textContent === "not seen yet",
      RECEPTION,
      WAIT,
    );
    await page.locator("#live", { hasText: "live:" }).waitFor(WAIT);
    // Every stage the row shows, and a mark a reload would wipe.
    await page.evaluate((mac) => {
      window.stagesSeen = [];
      const note = () => {
        const text = document.querySelector(`#listed tr[data-mac="${mac}"] .stage-text`)?.textContent;
        if (text && text !== window.stagesSeen.at(-1)) window.stagesSeen.push(text);
      };
      note();
      new MutationObserver(note).observe(document.getElementById("listed"), { childList: true, subtree: true });
    }, RECEPTION);
    console.log("watching");

    await page.locator(`#discovered tr[data-mac="${DISCOVERED}"]`).waitFor(WAIT);
    await stage.filter({ hasText: REGISTERED }).waitFor(WAIT);
    const stages = await page.evaluate(() => window.stagesSeen);
    const reloaded = await page.evaluate(() => window.stagesSeen === undefined);
    const registration = await row.locator("td").nth(6).textContent();
    await page.screenshot({ path: path.join(shots, "phones.png"), fullPage: true });

    await row.getByRole("link", { name: RECEPTION }).click();
    await page.waitForURL("**/phones/0018B9000001", WAIT);
    const timeline = page.locator("#timeline tbody");
    await timeline.getByText("asked for SIP0018B9000001.cnf: sent").waitFor(WAIT);
    await timeline.getByText("line 1001 registered", { exact: false }).first().waitFor(WAIT);
    const missing = await page.locator("#files tr.missing td:first-child").allTextContents();
    const expected = await page.locator("#files tr.expected").evaluateAll((rows) =>
      rows.map((row) => [row.cells[0].textContent, row.querySelector(".why").textContent]),
    );
    const kinds = [...new Set(await page.locator("#timeline tbody td:nth-child(2)").allTextContents())];
    await page.screenshot({ path: path.join(shots, "phone.png"), fullPage: true });

    await page.getByRole("button", { name: "Reboot (check-sync)" }).click();
    const answer = page.locator("#rebooted", { hasText: "new SYNC" });
    await answer.waitFor(WAIT);
    const rebooted = await answer.textContent();
    // The phone fetches its files again: the timeline grows without a reload.
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll("#timeline td.what")].filter(
          (cell) => cell.textContent === "asked for SIP0018B9000001.cnf: sent",
        ).length >= 2,
      null,
      WAIT,
    );
    await page.screenshot({ path: path.join(shots, "phone-rebooted.png"), fullPage: true });

    // The files it gets, collapsed until one is opened.
    const previews = page.locator("#preview details");
    await previews.first().waitFor(WAIT);
    const previewed = await previews.locator("summary").allTextContents();
    const opened = await page.locator("#preview details[open]").count();
    const file = previews.filter({ hasText: "SIP0018B9000001.cnf" });
    await file.locator("summary").click();
    await file.locator("pre", { hasText: "line1_name" }).waitFor(WAIT);
    const preview = await file.locator("pre").textContent();
    await page.screenshot({ path: path.join(shots, "phone-preview.png"), fullPage: true });

    // Re-provisioning asks first, then marks the timeline and reboots it
    // (told at the address it registered from after the reboot above).
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll("#timeline td.what")].filter((cell) =>
          cell.textContent.startsWith("line 1001 registered"),
        ).length >= 2,
      null,
      WAIT,
    );
    const questions = [];
    page.once("dialog", (dialog) => {
      questions.push(dialog.message());
      dialog.accept();
    });
    await page.getByRole("button", { name: "Re-provision" }).click();
    const reprovisioned = page.locator("#reprovisioned", { hasText: "new SYNC" });
    await reprovisioned.waitFor(WAIT);
    const mark = page.locator("#timeline tr.mark td.what");
    await mark.waitFor(WAIT);
    const marked = await mark.textContent();
    await page.screenshot({ path: path.join(shots, "phone-reprovisioned.png"), fullPage: true });
    const reprovision = { questions, said: await reprovisioned.textContent(), marked };

    // Adopting the discovered phone moves it to the listed ones.
    await page.goto(`${url}/`);
    const discovered = page.locator(`#discovered tr[data-mac="${DISCOVERED}"]`);
    await discovered.getByRole("button", { name: "Adopt" }).click();
    const dialog = page.locator("#adopt");
    await dialog.getByLabel("Model").selectOption("7940");
    await dialog.getByLabel("Description").fill("Lobby");
    await page.screenshot({ path: path.join(shots, "adopt.png"), fullPage: true });
    await dialog.getByRole("button", { name: "Adopt", exact: true }).click();
    const adoptedRow = page.locator(`#listed tr[data-mac="${DISCOVERED}"]`);
    await adoptedRow.waitFor(WAIT);
    await page.locator("#adopted", { hasText: "is in phoneprov.toml now" }).waitFor(WAIT);
    const adopted = await adoptedRow.locator("td").allTextContents();
    const stillDiscovered = await discovered.count();
    await page.screenshot({ path: path.join(shots, "adopted.png"), fullPage: true });

    console.log(
      `result ${JSON.stringify({
        stages,
        reloaded,
        registration,
        missing,
        expected,
        kinds,
        rebooted,
        previewed,
        opened,
        preview,
        reprovision,
        adopted,
        stillDiscovered,
        elsewhere,
        problems,
      })}`,
    );
  } finally {
    await browser.close();
  }
}

run(main);
