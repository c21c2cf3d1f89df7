/**
 * The language switcher: links to the same page in each language offered, each named in its own
 * language ("English", "Eesti"), so a voter who cannot read the current one still finds theirs.
 * The voting pages offer the languages the election's definition carries; `/` and `/check` the
 * languages of the page catalogues.
 */

export function languageName(code: string): string {
  try {
    const name = new Intl.DisplayNames([code], { type: "language" }).of(code);
    return name ? name.charAt(0).toLocaleUpperCase(code) + name.slice(1) : code;
  } catch {
    return code;
  }
}

export function LanguageSwitcher(props: {
  /** The navigation's accessible name, in the page's language. */
  readonly label: string;
  readonly languages: readonly string[];
  readonly current: string;
  /** The page's path; the link adds `?lang=`. */
  readonly path: string;
}) {
  const { label, languages, current, path } = props;
  if (languages.length < 2) return null;
  return (
    <nav class="languages" aria-label={label}>
      <ul>
        {languages.map((code) => (
          <li>
            <a
              href={`${path}?lang=${encodeURIComponent(code)}`}
              lang={code}
              hreflang={code}
              aria-current={code === current ? "true" : undefined}
            >
              {languageName(code)}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}
