/**
 * Validation against the NIST SP 1500-100 rev.2 JSON schema (draft-04, standards/nist/), with the
 * validator's output made readable: one problem per real fault, at the JSON pointer of the value
 * at fault.
 *
 * The raw output of @cfworker/json-schema lists every failed keyword on the way down ($ref,
 * properties, items) and, for each `oneOf` (GpUnit, Party, Contest, ContestSelection, ballot
 * content), the failures of every branch. NIST objects name their own type in `@type`, so for a
 * `oneOf` we keep only the branch whose `@type` the value claims, and when it claims none we say
 * that `@type` is wrong, once.
 */
import { Validator, type OutputUnit, type Schema } from "@cfworker/json-schema";
import nistSchema from "../../standards/nist/election_results_reporting_v2.schema.json" with { type: "json" };
import type { Problem } from "../errors.ts";
import { escapeSegment, unescapeSegment } from "./pointer.ts";

let validator: Validator | undefined;

function nistValidator(): Validator {
  // Compiling dereferences the whole schema: once per isolate, and only when first needed.
  validator ??= new Validator(nistSchema as Schema, "4", false);
  return validator;
}

/** Keywords that only say "something below failed"; the failure below is reported instead. */
const WRAPPER_KEYWORDS = new Set(["$ref", "properties", "items", "allOf", "anyOf", "additionalItems", "false"]);

/** Splits a validator location ("#/Election/0/@type", URI-encoded pointer) into raw segments. */
function segmentsOf(location: string): string[] {
  const body = location.startsWith("#") ? location.slice(1) : location;
  if (body === "") return [];
  return body
    .slice(1)
    .split("/")
    .map((s) => {
      try {
        return unescapeSegment(decodeURIComponent(s));
      } catch {
        return unescapeSegment(s);
      }
    });
}

function childOf(value: unknown, key: string): unknown {
  if (Array.isArray(value)) {
    const index = Number(key);
    return Number.isInteger(index) ? value[index] : undefined;
  }
  if (typeof value === "object" && value !== null) {
    return Object.prototype.hasOwnProperty.call(value, key) ? (value as Record<string, unknown>)[key] : undefined;
  }
  return undefined;
}

function resolveRef(ref: unknown): unknown {
  if (typeof ref !== "string" || !ref.startsWith("#/")) return undefined;
  return segmentsOf(ref).reduce<unknown>((node, s) => childOf(node, s), nistSchema);
}

/** The schema node at a keyword location, following `$ref` where the location passes one. */
function schemaAt(keywordLocation: string): unknown {
  let node: unknown = nistSchema;
  for (const segment of segmentsOf(keywordLocation)) {
    node = segment === "$ref" ? resolveRef(childOf(node, "$ref")) : childOf(node, segment);
  }
  return node;
}

/** The `@type` each branch of a `oneOf` stands for (NIST branches are all `$ref`s to one type). */
function branchTypes(oneOfLocation: string): (string | undefined)[] {
  const branches = schemaAt(oneOfLocation);
  if (!Array.isArray(branches)) return [];
  return branches.map((branch) => {
    const enumValues = childOf(childOf(childOf(resolveRef(childOf(branch, "$ref")), "properties"), "@type"), "enum");
    const first = Array.isArray(enumValues) ? enumValues[0] : undefined;
    return typeof first === "string" ? first : undefined;
  });
}

function pathOf(base: string, instanceLocation: string, ...more: string[]): string {
  return [...segmentsOf(instanceLocation), ...more].reduce((p, s) => `${p}/${escapeSegment(s)}`, base);
}

function quoted(match: RegExpExecArray | null): string | undefined {
  return match?.[1];
}

/** One validator failure as a problem, or undefined when it only wraps failures below it. */
function problemOf(base: string, unit: OutputUnit): Problem | undefined {
  const { keyword, instanceLocation, error } = unit;
  if (WRAPPER_KEYWORDS.has(keyword)) return undefined;
  switch (keyword) {
    case "required": {
      const property = quoted(/required property "(.*)"/.exec(error));
      return property === undefined
        ? { path: pathOf(base, instanceLocation), message: error }
        : { path: pathOf(base, instanceLocation, property), message: "is required by the NIST schema but missing" };
    }
    case "additionalProperties": {
      const property = quoted(/^Property "(.*)" does not match additional properties schema/.exec(error));
      return property === undefined
        ? { path: pathOf(base, instanceLocation), message: error }
        : { path: pathOf(base, instanceLocation, property), message: "is not a property the NIST schema allows here" };
    }
    case "type": {
      const m = /^Instance type "(.*)" is invalid\. Expected "(.*)"\.$/.exec(error);
      return { path: pathOf(base, instanceLocation), message: m ? `must be ${m[2]}, not ${m[1]}` : error };
    }
    case "enum": {
      const m = /^Instance does not match any of (.*)\.$/.exec(error);
      return { path: pathOf(base, instanceLocation), message: m ? `must be one of ${m[1]}` : error };
    }
    default:
      return { path: pathOf(base, instanceLocation), message: error.replace(/^Instance /, "value ") };
  }
}

/**
 * Every way `report` breaks the NIST schema, as problems under `base` (e.g. "/electionReport"),
 * deduplicated, in document order.
 */
export function nistSchemaProblems(report: unknown, base: string): Problem[] {
  const result = nistValidator().validate(report);
  if (result.valid) return [];

  const problems: Problem[] = [];
  const seen = new Set<string>();
  const add = (p: Problem): void => {
    const key = `${p.path}\u0000${p.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      problems.push(p);
    }
  };
  // Keyword-location prefixes of oneOf branches the value does not claim to be. The validator
  // reports a oneOf before its branches, so the prefixes are known before their failures arrive.
  const ignored: string[] = [];

  for (const unit of result.errors) {
    if (ignored.some((prefix) => unit.keywordLocation.startsWith(prefix))) continue;
    if (unit.keyword !== "oneOf") {
      const problem = problemOf(base, unit);
      if (problem) add(problem);
      continue;
    }
    const types = branchTypes(unit.keywordLocation);
    const value = segmentsOf(unit.instanceLocation).reduce<unknown>((node, s) => childOf(node, s), report);
    const claimed = childOf(value, "@type");
    const chosen = types.findIndex((t) => t !== undefined && t === claimed);
    types.forEach((_, i) => {
      if (i !== chosen) ignored.push(`${unit.keywordLocation}/${i}/`);
    });
    if (chosen >= 0) continue;
    const allowed = types
      .filter((t) => t !== undefined)
      .map((t) => JSON.stringify(t))
      .join(", ");
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      add({ path: pathOf(base, unit.instanceLocation), message: `must be an object whose @type is one of ${allowed}` });
    } else {
      add({ path: pathOf(base, unit.instanceLocation, "@type"), message: `must be one of ${allowed}` });
    }
  }
  return problems;
}
