/**
 * Choosing one language's text from a LocalizedText, the compiled form of a NIST
 * InternationalizedText (model.ts). Runtime-free: the portal's pages, the station client and the
 * auditor share it.
 */
import type { LocalizedText } from "./model.ts";

/** A language tag's base language: "et" for "et-ee", the tag itself when it has no subtags. */
function baseOf(tag: string): string {
  const dash = tag.indexOf("-");
  return dash === -1 ? tag : tag.slice(0, dash);
}

/**
 * The text in `language` (any case), else in its base language ("et" for "et-EE"), else in the
 * text's first language, else `fallback`. The first language is the one the definition gave first
 * for this text, which is the one the model's plain fields (`name`, `label`) show; a ballot then
 * never mixes in an id or an empty line where a translation is missing.
 */
export function localize(text: LocalizedText | undefined, language: string, fallback: string): string {
  if (text === undefined) return fallback;
  const tag = language.toLowerCase();
  // Own keys only: a language named by a visitor ("constructor") must not reach Object.prototype.
  if (Object.hasOwn(text, tag)) return text[tag]!;
  const base = baseOf(tag);
  if (Object.hasOwn(text, base)) return text[base]!;
  return Object.values(text)[0] ?? fallback;
}
