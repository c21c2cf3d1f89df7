/**
 * The page a person gets for a path that is neither a page nor an API route: what happened in
 * plain words and the two ways on (the elections, the receipt check). Programs asking for an API
 * path keep the API's JSON `not_found` (app.ts decides which).
 */
import { Layout } from "./layout.tsx";
import type { Messages } from "./messages.ts";

export function NotFoundPage(props: { readonly language: string; readonly t: Messages }) {
  const { language, t } = props;
  return (
    <Layout language={language} t={t} title={t.notFoundTitle}>
      <div data-error-code="not_found">
        <h1>{t.notFoundTitle}</h1>
        <p class="lead">{t.notFoundText}</p>
        <ul>
          <li>
            <a href="/">{t.notFoundHome}</a>
          </li>
          <li>
            <a href="/check">{t.checkReceipt}</a>
          </li>
        </ul>
      </div>
    </Layout>
  );
}
