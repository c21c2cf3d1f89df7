/**
 * Loading election definitions in tests of the loader: the parse that must succeed (its failure
 * printed whole), the one that must be refused, and a problem's message by its path.
 */
import { parseDefinition, type ParsedDefinition } from "../../../lib/election/definition.ts";
import type { Problem } from "../../../lib/errors.ts";

export function loads(input: unknown): ParsedDefinition {
  const result = parseDefinition(input);
  if (!result.ok) throw new Error(JSON.stringify(result.error, null, 2));
  return result.value;
}

export function refused(input: unknown): Problem[] {
  const result = parseDefinition(input);
  if (result.ok) throw new Error("expected the definition to be refused");
  return result.error;
}

export function messageAt(problems: readonly Problem[], path: string): string | undefined {
  return problems.find((p) => p.path === path)?.message;
}
