/**
 * The conventional two selections of a ballot measure, for definitions whose measures list none
 * (NIST allows that) when the election's settings ask for them (`missingBallotMeasureSelections`).
 * The texts are the plain words for yes and no in the languages of the region this system serves
 * and a few more; a definition in another language gets English and a warning that says so.
 */

const YES_NO: Readonly<Record<string, readonly [yes: string, no: string]>> = {
  en: ["Yes", "No"],
  et: ["Jah", "Ei"],
  fi: ["Kyllä", "Ei"],
  sv: ["Ja", "Nej"],
  lv: ["Jā", "Nē"],
  lt: ["Taip", "Ne"],
  ru: ["Да", "Нет"],
  de: ["Ja", "Nein"],
  fr: ["Oui", "Non"],
  es: ["Sí", "No"],
};

function baseOf(tag: string): string {
  const dash = tag.indexOf("-");
  return dash === -1 ? tag : tag.slice(0, dash);
}

/**
 * "Yes" and "No" in each of `languages` that has them here (a regional tag takes its base
 * language's words), English first when the first language has none; and the languages left out.
 */
export function yesNoTexts(languages: readonly string[]): {
  readonly yes: Readonly<Record<string, string>>;
  readonly no: Readonly<Record<string, string>>;
  readonly missing: readonly string[];
} {
  const yes: Record<string, string> = {};
  const no: Record<string, string> = {};
  const missing: string[] = [];
  const first = languages[0];
  if (first === undefined || YES_NO[baseOf(first)] === undefined) {
    yes["en"] = YES_NO["en"]![0];
    no["en"] = YES_NO["en"]![1];
  }
  for (const tag of languages) {
    const words = Object.hasOwn(YES_NO, baseOf(tag)) ? YES_NO[baseOf(tag)] : undefined;
    if (words === undefined) {
      missing.push(tag);
      continue;
    }
    yes[tag] = words[0];
    no[tag] = words[1];
  }
  return { yes, no, missing };
}
