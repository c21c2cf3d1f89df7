/**
 * The one layout of the portal's pages: the page's language, the service name in the header, a
 * skip link to the main landmark, a footer. It loads only the stylesheet and the enhancement
 * script that the Worker's static assets serve from this origin (dist/portal, built from
 * browser/; a page may add its own, as the results page does through `head`): no inline style
 * or script, so the Content-Security-Policy can stay `'self'` only.
 * Every page works without the script.
 */
import type { Child } from "hono/jsx";
import type { Messages } from "./messages.ts";

export const STYLESHEET_PATH = "/assets/portal.css";
export const SCRIPT_PATH = "/assets/enhance.js";

export function Layout(props: {
  readonly language: string;
  readonly t: Messages;
  /** The page's own heading; the document title adds the service name. */
  readonly title: string;
  readonly children: Child;
  /** More for the head (the signed-in page's meta refresh). */
  readonly head?: Child;
  /** More for the header, beside the service name (the sign-out form when signed in). */
  readonly headerEnd?: Child;
  /**
   * A wall screen's view (the results page's `?view=kiosk`): the service name without a link, no
   * footer, the page's own styles under `body.kiosk`. Nobody navigates a wall screen.
   */
  readonly kiosk?: boolean;
}) {
  const { language, t, title, children, head, headerEnd, kiosk = false } = props;
  return (
    <html lang={language} class="no-js">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${title} – ${t.serviceName}`}</title>
        <link rel="stylesheet" href={STYLESHEET_PATH} />
        <script type="module" src={SCRIPT_PATH}></script>
        {head}
      </head>
      <body class={kiosk ? "kiosk" : undefined}>
        <a class="skip-link" href="#main">
          {t.skipToContent}
        </a>
        <header class="site-header">
          <div class="wrap">
            {kiosk ? (
              <span class="service-name">{t.serviceName}</span>
            ) : (
              <a class="service-name" href="/">
                {t.serviceName}
              </a>
            )}
            {headerEnd}
          </div>
        </header>
        <main id="main" class="wrap" tabindex={-1}>
          {children}
        </main>
        {kiosk ? null : (
          <footer class="site-footer">
            <div class="wrap">
              <p>{t.footerNote}</p>
              <p>
                <a href="/openapi.json">{t.footerApi}</a>
              </p>
            </div>
          </footer>
        )}
      </body>
    </html>
  );
}
