/**
 * The portal's enhancement script, bundled by scripts/build-assets.ts into dist/portal/assets/.
 * It only enhances: every page works the same without it (a voter on an old phone or with
 * scripts off loses nothing). It imports lib/ only (.dependency-cruiser.cjs).
 *
 * It tells the stylesheet that scripts run (`<html class="js">`), so styles meant for enhanced
 * controls can apply only when the script that drives them does. On `/check`, when the page holds
 * a logged ballot, it loads the receipt verification (check.ts, a chunk of its own that no other
 * page downloads) and runs it. On the voting pages it keeps a live count of the choices in
 * choose-N contests and copies a receipt's tracking code.
 */
function markScripted(root: { readonly classList: DOMTokenList }): void {
  root.classList.remove("no-js");
  root.classList.add("js");
}

markScripted(document.documentElement);

const verifyRegion = document.querySelector<HTMLElement>("[data-verify-receipt]");
if (verifyRegion) {
  void import("./check.ts").then(({ verifyOnPage }) => verifyOnPage(verifyRegion));
}

/**
 * Choose-N contests: a live count of the choices made ("You have chosen 2 of 3."), announced
 * politely, and marked when over the limit. The server enforces the limit either way; the
 * sentences come from the page (data-counts, in the page's language), so none are written here.
 */
function countChoices(root: Document): void {
  for (const count of root.querySelectorAll<HTMLElement>(".choice-count[data-counts]")) {
    const fieldset = count.closest("fieldset");
    const allowed = Number(count.dataset["allowed"]);
    let sentences: unknown;
    try {
      sentences = JSON.parse(count.dataset["counts"] ?? "[]");
    } catch {
      continue;
    }
    if (!fieldset || !Array.isArray(sentences)) continue;
    const boxes = [...fieldset.querySelectorAll<HTMLInputElement>('input[type="checkbox"]')];
    const update = (): void => {
      const chosen = boxes.filter((box) => box.checked).length;
      const sentence: unknown = sentences[chosen];
      if (typeof sentence === "string") count.textContent = sentence;
      count.classList.toggle("over", chosen > allowed);
    };
    for (const box of boxes) box.addEventListener("change", update);
    update();
    count.hidden = false;
  }
}

countChoices(document);

/**
 * The receipt's "copy" button (hidden without this script, where the code is selected whole in
 * one click): copies the tracking code and says so in its status, in the page's words.
 */
function copyButtons(root: Document): void {
  for (const button of root.querySelectorAll<HTMLButtonElement>("button[data-copy]")) {
    const source = root.getElementById(button.dataset["copy"] ?? "");
    const holder = button.parentElement;
    const status = holder?.querySelector<HTMLElement>(".copy-status");
    if (!source || !holder || !status || !("clipboard" in navigator)) continue;
    button.addEventListener("click", () => {
      navigator.clipboard.writeText((source.textContent ?? "").trim()).then(
        () => {
          status.textContent = button.dataset["copied"] ?? "";
        },
        () => {
          status.textContent = "";
        },
      );
    });
    holder.hidden = false;
  }
}

copyButtons(document);
