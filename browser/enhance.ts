/**
 * The portal's enhancement script, bundled by scripts/build-assets.ts into dist/portal/assets/.
 * It only enhances: every page works the same without it (a voter on an old phone or with
 * scripts off loses nothing). It imports lib/ only (.dependency-cruiser.cjs).
 *
 * It tells the stylesheet that scripts run (`<html class="js">`), so styles meant for enhanced
 * controls can apply only when the script that drives them does. On `/check`, when the page holds
 * a logged ballot, it loads the receipt verification (check.ts, a chunk of its own that no other
 * page downloads) and runs it.
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
