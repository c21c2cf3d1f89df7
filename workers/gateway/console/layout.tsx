/**
 * The console's one layout: the portal's look (its stylesheet) with the console's own additions
 * (console.css) and script (console.js, its own bundle: key import, signing, live alerts), the
 * signed-in official and the sign-out form in the header. Like the portal: no inline style or
 * script, so the Content-Security-Policy stays `'self'` only, and every page works without the
 * script.
 */
import type { Child } from "hono/jsx";
import { STYLESHEET_PATH } from "../pages/layout.tsx";
import type { ConsoleMessages } from "./messages.ts";

export const CONSOLE_STYLESHEET_PATH = "/assets/console.css";
export const CONSOLE_SCRIPT_PATH = "/assets/console.js";

/** Who is signed in, as the header shows it, and the sign-out form's CSRF token. */
export interface SignedIn {
  readonly officialId: string;
  readonly role: string;
  readonly csrf: string;
  /** When the access token expires (epoch seconds): the script signs in again before then. */
  readonly expiresAt: number;
}

export function ConsoleLayout(props: {
  readonly t: ConsoleMessages;
  readonly title: string;
  readonly signedIn?: SignedIn;
  readonly children: Child;
}) {
  const { t, title, signedIn, children } = props;
  return (
    <html lang="en" class="no-js">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${title} – ${t.serviceName}`}</title>
        <link rel="stylesheet" href={STYLESHEET_PATH} />
        <link rel="stylesheet" href={CONSOLE_STYLESHEET_PATH} />
        <script type="module" src={CONSOLE_SCRIPT_PATH}></script>
      </head>
      <body class="console">
        <a class="skip-link" href="#main">
          {t.skipToContent}
        </a>
        <header class="site-header">
          <div class="wrap console-header">
            <a class="service-name" href="/console">
              {t.serviceName}
            </a>
            {signedIn ? (
              <form
                class="sign-out"
                method="post"
                action="/console/sign-out"
                data-official={signedIn.officialId}
                data-expires-at={String(signedIn.expiresAt)}
              >
                <span class="signed-in">{t.signedInAs(signedIn.officialId, signedIn.role)}</span>{" "}
                <input type="hidden" name="csrf" value={signedIn.csrf} />
                <button type="submit" class="button-link">
                  {t.signOut}
                </button>
              </form>
            ) : null}
          </div>
        </header>
        <main id="main" class="wrap console-main" tabindex={-1}>
          {children}
        </main>
        <footer class="site-footer">
          <div class="wrap">
            <p>{t.footerNote}</p>
          </div>
        </footer>
      </body>
    </html>
  );
}
