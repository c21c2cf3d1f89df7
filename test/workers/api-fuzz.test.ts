/**
 * Bad input, as a campaign: requests generated from the served OpenAPI document (every path and
 * method it lists, so a new route is fuzzed without editing this file), seeded and shrinking, with
 * every kind of credential. Bodies follow each operation's documented JSON schema with wrong
 * types, missing and extra fields, boundary and ill-formed strings (NUL, control characters, lone
 * surrogates, RTL marks, very long), huge numbers and NaN-ish strings, or are random bytes, forms
 * and broken gzip under any content type. The properties (docs/RELIABILITY.md, "Bad input"):
 *
 * - no 5xx, save a 503 the operation documents, carrying a registered code of that status;
 * - every 4xx body is `{ error: { code, message } }` with a code registered in lib/errors.ts and
 *   the status that code declares;
 * - a body the operation documents for the status answered (JSON) parses against that schema;
 * - a refused request changes nothing: D1's records, the results, the audit log's size, a known
 *   voter's ledger and the polls, compared around every batch of requests that were all refused;
 * - a write-in name is refused or accepted alike online and on a paper ballot's QR.
 *
 * A failure names the request that caused it, shrunk by fast-check to the smallest one that
 * still fails (method, path, credential, headers, body), and the answer it got.
 */
import { env, SELF } from "cloudflare:test";
import { Validator, type Schema } from "@cfworker/json-schema";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { ERROR_CODES, type ErrorCode } from "../../lib/errors.ts";
import { concatBytes, utf8 } from "../../lib/bytes.ts";
import { writeInProblem } from "../../lib/ballot/validate.ts";
import type { CompiledElection } from "../../lib/election/model.ts";
import { QR_FORMAT_VERSION, qrBytesOf, qrText } from "../../lib/qr/payload.ts";
import { signStationRequest, STATION_SIGNATURE_HEADER } from "../../lib/station/signed-request.ts";
import { OfficialRole } from "../../lib/vocabulary.ts";
import { adminToken, BASE, officialToken, voterSession } from "./helpers/auth.ts";
import { cast, NORTH_BALLOT } from "./helpers/cast.ts";
import { loadDemoElection } from "./helpers/election.ts";
import { enrol } from "./helpers/roll.ts";
import {
  atTime,
  checkInVoters,
  compiledElection,
  markedBallotQr,
  registerStation,
  type TestStation,
} from "./helpers/station.ts";

const ELECTION = "fuzz-2026";
const WRITE_IN_ELECTION = "fuzz-write-ins";
/** The first property's seed (the next two take SEED + 1 and + 2); a failure prints it with the shrunk request. */
const SEED = 16_2026;
/** Requests of the first property; the state property, its snapshots and the set-up add about 1,500 more. */
const REQUESTS = 10_000;

// ---------------------------------------------------------------------------------------------
// The OpenAPI document, as much of it as the generator reads

type JsonSchema = { readonly [key: string]: unknown };

interface MediaType {
  readonly schema?: JsonSchema;
}
interface Parameter {
  readonly name: string;
  readonly in: "path" | "query" | "header" | "cookie";
  readonly required?: boolean;
  readonly schema?: JsonSchema;
}
interface OpenApiOperation {
  readonly security?: readonly Record<string, unknown>[];
  readonly parameters?: readonly Parameter[];
  readonly requestBody?: { readonly required?: boolean; readonly content?: Record<string, MediaType> };
  readonly responses?: Record<string, { readonly content?: Record<string, MediaType> }>;
}
interface OpenApiDocument {
  readonly paths: Record<string, Record<string, OpenApiOperation>>;
  readonly components?: { readonly schemas?: Record<string, JsonSchema> };
}

interface Operation {
  readonly method: string;
  /** The documented path, with {parameters}. */
  readonly template: string;
  readonly op: OpenApiOperation;
}

const METHODS = ["get", "put", "post", "delete", "patch"];

let doc: OpenApiDocument;
let operations: Operation[];

/** Replaces every `#/components/schemas/...` reference by the schema it names. */
function resolved(schema: JsonSchema, seen: ReadonlySet<string> = new Set()): JsonSchema {
  const ref = schema["$ref"];
  if (typeof ref === "string") {
    const name = ref.replace("#/components/schemas/", "");
    const target = doc.components?.schemas?.[name];
    if (!target || seen.has(name)) return {};
    return resolved(target, new Set([...seen, name]));
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === "properties" && value && typeof value === "object") {
      out[key] = Object.fromEntries(
        Object.entries(value as Record<string, JsonSchema>).map(([k, v]) => [k, resolved(v, seen)]),
      );
    } else if (Array.isArray(value)) {
      out[key] = value.map((v: unknown) => (v && typeof v === "object" ? resolved(v as JsonSchema, seen) : v));
    } else if (value && typeof value === "object" && key !== "const" && key !== "example" && key !== "default") {
      out[key] = resolved(value as JsonSchema, seen);
    } else {
      out[key] = value;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Values the generator draws from: ids of this file's election, and bad input of every kind

/** Path and query parameter values that name real things here (filled in beforeAll). */
const known: Record<string, string[]> = {};

const illFormedStrings = fc.constantFrom(
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "\uD800",
  "x\uDC00y",
  "\uDFFF\uD800",
  "\u202Eevil\u202C",
  "\u200F",
  "\u0007\u001B[31m",
  "\r\nX-Injected: 1",
  "\uFEFF",
  "e\u0301",
  "👍🏽",
  "ＡＢＣ",
  "NaN",
  "Infinity",
  "-Infinity",
  "-0",
  "1e999",
  "0x10",
  "null",
  "undefined",
  "true",
  "[]",
  "{}",
  "__proto__",
  "constructor",
  "../../etc/passwd",
  "%00",
  "%ZZ",
  "<script>alert(1)</script>",
  "' OR '1'='1",
  "9".repeat(400),
);

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const controlCharacter = fc
  .oneof(fc.integer({ min: 0, max: 0x1f }), fc.integer({ min: 0x7f, max: 0x9f }))
  .map((c) => String.fromCharCode(c));

const badString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: illFormedStrings },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 24 }) },
  {
    weight: 1,
    arbitrary: fc.string({
      unit: fc.oneof(loneSurrogate, controlCharacter, fc.string({ minLength: 1, maxLength: 1 })),
      maxLength: 12,
    }),
  },
  { weight: 1, arbitrary: fc.integer({ min: 200, max: 5_000 }).map((n) => "x".repeat(n)) },
  { weight: 1, arbitrary: fc.constant("y".repeat(70_000)) },
);

const hugeNumber = fc.constantFrom(
  1e308,
  -1e308,
  2 ** 53 + 1,
  -(2 ** 63),
  2 ** 64,
  Number.MIN_VALUE,
  -0,
  0.5,
  -1,
  4_294_967_296,
);

const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  hugeNumber,
  badString,
  fc.constant([]),
  fc.constant({}),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 2 }),
);

function stringArb(schema: JsonSchema): fc.Arbitrary<string> {
  const min = typeof schema["minLength"] === "number" ? schema["minLength"] : 0;
  const max = typeof schema["maxLength"] === "number" ? Math.min(schema["maxLength"], min + 40) : min + 24;
  let fitting: fc.Arbitrary<string> = fc.string({ minLength: min, maxLength: Math.max(min, max) });
  const pattern = schema["pattern"];
  if (typeof pattern === "string") {
    try {
      fitting = fc.stringMatching(new RegExp(pattern));
    } catch {
      // A pattern fast-check cannot generate from keeps the plain strings.
    }
  } else if (schema["format"] === "date-time") {
    fitting = fc
      .date({ min: new Date("2000-01-01T00:00:00Z"), max: new Date("2100-01-01T00:00:00Z"), noInvalidDate: true })
      .map((d) => d.toISOString());
  } else if (schema["format"] === "uuid") {
    fitting = fc.uuid();
  }
  return fc.oneof({ weight: 5, arbitrary: fitting }, { weight: 2, arbitrary: badString });
}

/** A value of `schema`'s shape, each part now and then of the wrong type, missing or extra. */
function valueOf(schema: JsonSchema, depth = 0, name = ""): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 8, arbitrary: shapeOf(schema, depth, name) }, { weight: 1, arbitrary: wrongValue });
}

function shapeOf(schema: JsonSchema, depth: number, name: string): fc.Arbitrary<unknown> {
  const knownValues = known[name];
  if (knownValues && knownValues.length > 0 && schema["type"] !== "array") {
    return fc.oneof(fc.constantFrom(...knownValues), plainShapeOf(schema, depth, name));
  }
  return plainShapeOf(schema, depth, name);
}

function plainShapeOf(schema: JsonSchema, depth: number, name = ""): fc.Arbitrary<unknown> {
  if ("const" in schema) return fc.constant(schema["const"]);
  const choices = (schema["anyOf"] ?? schema["oneOf"]) as JsonSchema[] | undefined;
  if (Array.isArray(choices) && choices.length > 0) return fc.oneof(...choices.map((c) => valueOf(c, depth + 1)));
  const all = schema["allOf"] as JsonSchema[] | undefined;
  if (Array.isArray(all) && all.length > 0) return valueOf(all[0]!, depth + 1);
  const values = schema["enum"];
  if (Array.isArray(values) && values.length > 0) return fc.constantFrom(...(values as unknown[]));
  const type = Array.isArray(schema["type"]) ? (schema["type"] as string[]) : [schema["type"]];
  const arbitraries = type.map((t) => typed(String(t), schema, depth, name));
  return arbitraries.length === 1 ? arbitraries[0]! : fc.oneof(...arbitraries);
}

function typed(type: string, schema: JsonSchema, depth: number, name: string): fc.Arbitrary<unknown> {
  switch (type) {
    case "string":
      return stringArb(schema);
    case "integer": {
      const min = typeof schema["minimum"] === "number" ? schema["minimum"] : -1_000;
      const max = typeof schema["maximum"] === "number" ? schema["maximum"] : 1_000_000;
      return fc.oneof(
        { weight: 4, arbitrary: fc.integer({ min: Math.max(min, -(2 ** 31)), max: Math.min(max, 2 ** 31 - 1) }) },
        { weight: 1, arbitrary: fc.constantFrom(min - 1, max + 1) },
        { weight: 1, arbitrary: hugeNumber },
      );
    }
    case "number":
      return fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), hugeNumber);
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    case "array": {
      if (depth > 4) return fc.constant([]);
      const items = (schema["items"] as JsonSchema | undefined) ?? {};
      const maxItems = typeof schema["maxItems"] === "number" ? schema["maxItems"] : 4;
      // An array's items take the known values of the array's name (optionIds: the election's options).
      return fc.array(valueOf(items, depth + 1, name), { maxLength: Math.min(maxItems + 1, 4) });
    }
    case "object": {
      if (depth > 4) return fc.constant({});
      const properties = (schema["properties"] as Record<string, JsonSchema> | undefined) ?? {};
      const required = Array.isArray(schema["required"]) ? (schema["required"] as string[]) : [];
      const model = Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, valueOf(v, depth + 1, k)]));
      return fc
        .tuple(
          fc.record(model, { requiredKeys: required.filter((k) => k in model) }),
          // Now and then a required field is left out, and fields the schema does not know added.
          fc.subarray(required, { maxLength: Math.min(1, required.length) }),
          fc.oneof(
            { weight: 5, arbitrary: fc.constant(null) },
            {
              weight: 1,
              arbitrary: fc.dictionary(fc.oneof(fc.string({ maxLength: 8 }), illFormedStrings), wrongValue, {
                minKeys: 1,
                maxKeys: 2,
              }),
            },
          ),
          fc.nat({ max: 5 }),
        )
        .map(([value, dropped, extra, dice]) => {
          const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
          if (dice === 0) for (const key of dropped) delete out[key];
          return extra === null ? out : { ...out, ...extra };
        });
    }
    default:
      return fc.oneof(fc.jsonValue({ maxDepth: 2 }), wrongValue);
  }
}

// ---------------------------------------------------------------------------------------------
// Requests

type Credential =
  | "none"
  | "garbage-bearer"
  | "not-bearer"
  | "forged"
  | "expired-official"
  | "expired-voter"
  | OfficialRole
  | "voter"
  | "station-signed"
  | "station-stale"
  | "station-garbage";

const CREDENTIALS: readonly Credential[] = [
  "none",
  "garbage-bearer",
  "not-bearer",
  "forged",
  "expired-official",
  "expired-voter",
  ...OfficialRole.options,
  "voter",
  "station-signed",
  "station-stale",
  "station-garbage",
];

/**
 * Mostly a credential of the kind the operation documents (so that requests get past the front
 * door and reach the route's parsing), else any.
 */
function credentialOf(op: OpenApiOperation): fc.Arbitrary<Credential> {
  const schemes = new Set((op.security ?? []).flatMap((s) => Object.keys(s)));
  const fitting: Credential[] = [
    ...(schemes.has("officialAccess") ? OfficialRole.options : []),
    ...(schemes.has("voterSession") ? (["voter"] as const) : []),
    ...(schemes.has("stationSignature") ? (["station-signed"] as const) : []),
  ];
  const any = fc.constantFrom(...CREDENTIALS);
  return fitting.length === 0
    ? any
    : fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...fitting) }, { weight: 1, arbitrary: any });
}

/** A generated request, all plain data so that fast-check prints it whole when it fails. */
interface FuzzRequest {
  readonly method: string;
  readonly template: string;
  /** The path as sent, its parameters filled in. */
  readonly path: string;
  readonly query: string;
  readonly credential: Credential;
  readonly contentType: string | null;
  readonly contentEncoding: string | null;
  readonly body: string | Uint8Array | null;
  readonly ip: string;
  readonly country: string | null;
}

/** Mostly the operation's documented media type (JSON when it has none), now and then any other. */
const contentTypes = (documented: string) =>
  fc.oneof(
    { weight: 8, arbitrary: fc.constant(documented) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        null,
        "application/json; charset=utf-8",
        "application/json; charset=utf-16",
        "text/plain",
        "text/html",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=fuzz",
        "application/octet-stream",
        "application/jose",
        ";;;",
      ),
    },
  );

const contentEncodings = fc.oneof(
  { weight: 12, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.constantFrom("gzip", "br", "deflate", "identity", "gzip, gzip", "x-unknown") },
);

const brokenJson = fc.constantFrom(
  "{",
  "{not json",
  '{"a":1e999}',
  '{"a":NaN}',
  "[",
  "null",
  "0",
  '""',
  "\uFEFF{}",
  '{"__proto__":{"polluted":true}}',
  '{"a":1,"a":2}',
  "\u0000",
  '{"contests":[{"contestId":"\\ud800"}]}',
);

/** A gzip header followed by bytes that are not a deflate stream. */
const brokenGzip = fc.uint8Array({ maxLength: 64 }).map((tail) => new Uint8Array([0x1f, 0x8b, 0x08, 0, ...tail]));

/** The media type an operation's body is documented in, if it has one. */
function mediaTypeOf(op: OpenApiOperation): string | undefined {
  return Object.keys(op.requestBody?.content ?? {})[0];
}

function bodyOf(op: OpenApiOperation): fc.Arbitrary<string | Uint8Array | null> {
  const mediaType = mediaTypeOf(op);
  const schema = mediaType === undefined ? undefined : op.requestBody?.content?.[mediaType]?.schema;
  const random = fc.oneof(
    brokenJson,
    fc.uint8Array({ maxLength: 256 }),
    brokenGzip,
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
    badString,
  );
  if (!schema) return fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: random });
  const shaped = valueOf(resolved(schema));
  return fc.oneof(
    { weight: mediaType === "application/json" ? 10 : 1, arbitrary: shaped.map((v) => JSON.stringify(v) ?? "null") },
    {
      weight: mediaType === "application/json" ? 1 : 10,
      arbitrary: shaped.map((v) =>
        // The documented shape as a form: each field as text (strings as they are, others as JSON).
        new URLSearchParams(
          v && typeof v === "object"
            ? Object.entries(v).map(([k, x]) => [k, typeof x === "string" ? x : (JSON.stringify(x) ?? "")])
            : [["v", ""]],
        ).toString(),
      ),
    },
    { weight: 2, arbitrary: random },
    { weight: 1, arbitrary: fc.constant(null) },
  );
}

/** `text` percent-encoded byte by byte, a lone surrogate as its WTF-8 bytes (which no URL API would write). */
function percentEncoded(text: string): string {
  return [...wtf8(text)]
    .map((b) =>
      /[A-Za-z0-9._~-]/.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : `%${b.toString(16).padStart(2, "0").toUpperCase()}`,
    )
    .join("");
}

/** A path segment: an id of this file's election, one of the parameter's shape, or ill-formed. */
function segmentOf(parameter: Parameter): fc.Arbitrary<string> {
  const knownValues = known[parameter.name] ?? [];
  const fitting = plainShapeOf(resolved(parameter.schema ?? { type: "string" }), 0).map((v) =>
    percentEncoded(String(v)),
  );
  return fc.oneof(
    ...(knownValues.length > 0 ? [{ weight: 6, arbitrary: fc.constantFrom(...knownValues) }] : []),
    { weight: 3, arbitrary: fitting },
    { weight: 1, arbitrary: badString.map((s) => percentEncoded(s.slice(0, 300))) },
    // Left raw: a percent sign that begins no escape, a dot segment, an encoded slash.
    { weight: 1, arbitrary: fc.constantFrom("%ZZ", "%", "..", "%2F", "%00", "%C0%AE", "%ED%A0%80", "a%2Fb") },
  );
}

function queryOf(op: OpenApiOperation): fc.Arbitrary<string> {
  const documented = (op.parameters ?? []).filter((p) => p.in === "query");
  const pairs = fc.tuple(
    ...documented.map((p) =>
      fc.option(
        valueOf(resolved(p.schema ?? { type: "string" }), 0, p.name).map((v): [string, string] => [
          p.name,
          typeof v === "string" ? v : (JSON.stringify(v) ?? ""),
        ]),
        // A required parameter is mostly there, an optional one half the time.
        { freq: p.required ? 8 : 2 },
      ),
    ),
  );
  const extra = fc.oneof(
    { weight: 3, arbitrary: fc.constant([]) },
    {
      weight: 1,
      arbitrary: fc.array(fc.tuple(fc.oneof(fc.string({ maxLength: 6 }), illFormedStrings), badString), {
        minLength: 1,
        maxLength: 2,
      }),
    },
  );
  return fc.oneof(
    { weight: documented.length > 0 ? 2 : 8, arbitrary: fc.constant("") },
    {
      weight: documented.length > 0 ? 8 : 3,
      arbitrary: fc.tuple(pairs, extra).map(([documentedPairs, extraPairs]) => {
        const all = [...documentedPairs.filter((p): p is [string, string] => p !== null), ...extraPairs];
        const query = new URLSearchParams(all.map(([k, v]) => [k, v.slice(0, 2_000)])).toString();
        return query === "" ? "" : `?${query}`;
      }),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom("?%ZZ=1", "?a", "?&&=&", "?a=1&a=2&a=3", "?a[b]=c", "?" + "q=1&".repeat(500)),
    },
  );
}

function requestOf(operation: Operation): fc.Arbitrary<FuzzRequest> {
  const parameters = (operation.op.parameters ?? []).filter((p) => p.in === "path");
  const segments = fc.record(Object.fromEntries(parameters.map((p) => [p.name, segmentOf(p)])));
  return fc
    .record({
      segments,
      query: queryOf(operation.op),
      credential: credentialOf(operation.op),
      contentType: contentTypes(mediaTypeOf(operation.op) ?? "application/json"),
      contentEncoding: contentEncodings,
      body: bodyOf(operation.op),
      ip: fc.oneof(
        { weight: 10, arbitrary: fc.tuple(fc.nat(255), fc.nat(255)).map(([a, b]) => `10.160.${a}.${b}`) },
        { weight: 1, arbitrary: fc.constantFrom("", "not-an-ip", "::1", "2001:db8::1", "999.1.1.1") },
      ),
      country: fc.oneof(
        { weight: 8, arbitrary: fc.constant("EE") },
        { weight: 1, arbitrary: fc.constantFrom(null, "US", "XX") },
      ),
    })
    .map(({ segments: values, ...rest }) => ({
      method: operation.method.toUpperCase(),
      template: operation.template,
      path: operation.template.replace(/\{([^}]+)\}/g, (_, name: string) => values[name] ?? "x"),
      ...rest,
    }));
}

/** A request to any documented operation. */
function anyRequest(): fc.Arbitrary<FuzzRequest> {
  return fc.constantFrom(...operations).chain(requestOf);
}

// ---------------------------------------------------------------------------------------------
// Credentials, made once in beforeAll

let station: TestStation;
const bearer: Partial<Record<Credential, string>> = {};

async function headersOf(r: FuzzRequest, url: URL): Promise<Headers> {
  const headers = new Headers({ "cf-connecting-ip": r.ip });
  if (r.contentType !== null) headers.set("content-type", r.contentType);
  if (r.contentEncoding !== null) headers.set("content-encoding", r.contentEncoding);
  switch (r.credential) {
    case "none":
      break;
    case "not-bearer":
      headers.set("authorization", "Basic YWRtaW46YWRtaW4=");
      break;
    case "station-signed":
    case "station-stale": {
      const stationId = /^\/v1\/stations\/([^/]+)/.exec(url.pathname)?.[1] ?? station.stationId;
      headers.set(
        STATION_SIGNATURE_HEADER,
        await signStationRequest(station.privateJwk, {
          stationId: decodeURIComponentSafe(stationId),
          origin: BASE,
          method: r.method,
          path: url.pathname + url.search,
          body: r.body ?? "",
          ...(r.credential === "station-stale" ? { issuedAtSeconds: Math.floor(Date.now() / 1000) - 3_600 } : {}),
        }),
      );
      break;
    }
    case "station-garbage":
      headers.set(STATION_SIGNATURE_HEADER, "eyJhbGciOiJFZERTQSJ9.e30.c2ln");
      break;
    default:
      headers.set("authorization", `Bearer ${bearer[r.credential] ?? "missing"}`);
  }
  return headers;
}

function decodeURIComponentSafe(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

async function send(r: FuzzRequest): Promise<Response> {
  const url = new URL(`${BASE}${r.path}${r.query}`);
  const init: RequestInit<RequestInitCfProperties> = {
    method: r.method,
    headers: await headersOf(r, url),
    redirect: "manual",
    ...(r.country === null ? {} : { cf: { country: r.country } }),
  };
  if (r.body !== null && r.method !== "GET" && r.method !== "HEAD") init.body = r.body;
  return SELF.fetch(url, init);
}

// ---------------------------------------------------------------------------------------------
// The per-request properties

const validators = new Map<string, Validator>();

function validatorFor(operation: Operation, status: number): Validator | undefined {
  const key = `${operation.method} ${operation.template} ${status}`;
  if (!validators.has(key)) {
    const schema = operation.op.responses?.[String(status)]?.content?.["application/json"]?.schema;
    if (!schema) return undefined;
    validators.set(key, new Validator(resolved(schema) as Schema, "2020-12", false));
  }
  return validators.get(key);
}

function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.hasOwn(ERROR_CODES, code);
}

/** Why the answer breaks a property, or undefined when it keeps them all. */
async function verdict(operation: Operation, res: Response): Promise<string | undefined> {
  // Read as bytes: an image's answer is no text, and Response.text() warns about each one.
  const text = new TextDecoder().decode(await res.arrayBuffer());
  const status = res.status;
  const isJson = /[/+]json\b/.test(res.headers.get("content-type") ?? "");
  let json: unknown;
  if (isJson) {
    try {
      json = JSON.parse(text);
    } catch {
      return `${status} with a JSON content type and a body that is not JSON: ${text.slice(0, 200)}`;
    }
  }
  const error = (json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  if (status >= 500) {
    const documented = operation.op.responses?.[String(status)] !== undefined;
    const allowed = status === 503 && documented && isErrorCode(error?.code) && ERROR_CODES[error.code].status === 503;
    if (!allowed) return `a ${status}: ${text.slice(0, 300)}`;
  }
  if (status >= 400 && status < 500 && !isJson && /^text\/html\b/.test(res.headers.get("content-type") ?? "")) {
    // A route a browser posts to (the eID callback) refuses with a page; its code for machines
    // is the page's data-error-code, held to the same rule.
    const code = /data-error-code="([^"]*)"/.exec(text)?.[1];
    if (!isErrorCode(code)) return `a ${status} page without a registered data-error-code: ${text.slice(0, 200)}`;
    if (ERROR_CODES[code].status !== status) {
      return `${code} answered with ${status}, where lib/errors.ts declares ${ERROR_CODES[code].status}`;
    }
    return undefined;
  }
  if (status >= 400 && status < 500) {
    if (!isJson || typeof error !== "object" || error === null)
      return `a ${status} without a JSON error body: ${text.slice(0, 200)}`;
    if (!isErrorCode(error.code)) return `a ${status} with an unregistered code ${JSON.stringify(error.code)}`;
    if (typeof error.message !== "string") return `a ${status} (${error.code}) without a message`;
    if (ERROR_CODES[error.code].status !== status) {
      return `${error.code} answered with ${status}, where lib/errors.ts declares ${ERROR_CODES[error.code].status}`;
    }
  }
  if (isJson) {
    const validator = validatorFor(operation, status);
    const outcome = validator?.validate(json);
    if (outcome && !outcome.valid) {
      const where = outcome.errors
        .slice(-3)
        .map((e) => `${e.instanceLocation} ${e.error}`)
        .join("; ");
      return `a ${status} whose body does not match the documented schema (${where}): ${text.slice(0, 300)}`;
    }
  }
  return undefined;
}

function describeRequest(r: FuzzRequest): string {
  const body =
    r.body === null
      ? "none"
      : typeof r.body === "string"
        ? JSON.stringify(r.body.slice(0, 300))
        : `bytes [${r.body.slice(0, 48).join(",")}]`;
  return `${r.method} ${r.path}${r.query.slice(0, 300)} (credential ${r.credential}, content-type ${JSON.stringify(r.contentType)}, content-encoding ${JSON.stringify(r.contentEncoding)}, ip ${JSON.stringify(r.ip)}, country ${JSON.stringify(r.country)}) body ${body}`;
}

interface Tally {
  sent: number;
  byStatus: Map<number, number>;
  byOperation: Map<string, number>;
  accepted: Set<string>;
}

function newTally(): Tally {
  return { sent: 0, byStatus: new Map(), byOperation: new Map(), accepted: new Set() };
}

/** Sends one request and checks the per-request properties; throws with the request if one fails. */
async function sendAndCheck(r: FuzzRequest, tally: Tally): Promise<number> {
  const operation = operations.find((o) => o.template === r.template && o.method.toUpperCase() === r.method);
  if (!operation) throw new Error(`no operation ${r.method} ${r.template}`);
  const res = await send(r);
  const problem = await verdict(operation, res);
  tally.sent += 1;
  tally.byStatus.set(res.status, (tally.byStatus.get(res.status) ?? 0) + 1);
  tally.byOperation.set(`${r.method} ${r.template}`, (tally.byOperation.get(`${r.method} ${r.template}`) ?? 0) + 1);
  if (res.status < 300) tally.accepted.add(`${r.method} ${r.template}`);
  if (problem) throw new Error(`${describeRequest(r)}\n  answered ${problem}`);
  return res.status;
}

// ---------------------------------------------------------------------------------------------
// What a refused request could change

/** D1's records. Security events, alerts and dead letters are left out: refusals are recorded there on purpose. */
const TABLES = [
  "elections",
  "election_polls",
  "voters",
  "officials",
  "official_proposals",
  "official_revocation_requests",
  "official_keys",
  "log_receipts",
  "cast_vote_records",
  "receipts",
  "stations",
  "station_districts",
  "station_serial_ranges",
  "station_keys",
  "sheet_signing_keys",
  "check_ins",
  "result_sheets",
  "reconciliation_differences",
  "paper_cancellations",
  "offline_conflicts",
  "offline_envelopes",
];

let knownVoterSession: string;
let reads = 0;

async function read(path: string, token?: string): Promise<string> {
  // Each read from its own address, so that the public reads' rate limit never answers for it.
  reads += 1;
  const res = await SELF.fetch(`${BASE}${path}`, {
    headers: {
      "cf-connecting-ip": `10.161.${(reads >> 8) & 255}.${reads & 255}`,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
  });
  const text = await res.text();
  // When the answer was made, or its figures read, is no state.
  return `${res.status} ${text.replace(/"(generatedAt|asOf)":"[^"]*"/g, "")}`;
}

async function snapshot(): Promise<Record<string, string>> {
  const rows = await env.DB.batch(TABLES.map((t) => env.DB.prepare(`SELECT * FROM ${t}`)));
  const out: Record<string, string> = {};
  TABLES.forEach((t, i) => {
    out[t] = (rows[i]?.results ?? [])
      .map((row) => JSON.stringify(row))
      .sort()
      .join("\n");
  });
  const checkpoint = await read(`/v1/logs/${ELECTION}/checkpoint`);
  // The checkpoint's origin and size lines: its signature and time may be renewed with nothing new.
  out["log size"] = checkpoint.split("\n").slice(0, 2).join("\n");
  out["public results"] = await read(`/v1/elections/${ELECTION}/results`);
  out["exact results"] = await read(`/v1/admin/elections/${ELECTION}/results`, bearer.auditor);
  out["polls"] = await read(`/v1/admin/elections/${ELECTION}/polls`, bearer.administrator);
  out["a voter's ledger"] = await read(`/v1/elections/${ELECTION}/my-ballot`, knownVoterSession);
  return out;
}

function differences(before: Record<string, string>, after: Record<string, string>): string[] {
  return Object.keys(before)
    .filter((k) => before[k] !== after[k])
    .map((k) => `${k}:\n    before ${before[k]?.slice(0, 400)}\n    after  ${after[k]?.slice(0, 400)}`);
}

/** Waits until nothing changes for a second (an accepted request's queued work has landed). */
async function settled(): Promise<Record<string, string>> {
  let last = await snapshot();
  for (let i = 0; i < 40; i += 1) {
    await new Promise((r) => setTimeout(r, 500));
    const next = await snapshot();
    if (differences(last, next).length === 0) return next;
    last = next;
  }
  return last;
}

// ---------------------------------------------------------------------------------------------

beforeAll(async () => {
  await loadDemoElection({ electionId: ELECTION });
  const election = await compiledElection(ELECTION);

  const res = await SELF.fetch(`${BASE}/openapi.json`);
  expect(res.status).toBe(200);
  doc = await res.json();
  operations = Object.entries(doc.paths).flatMap(([template, item]) =>
    METHODS.filter((m) => item[m]).map((method) => ({ method, template, op: item[method]! })),
  );

  // Every role's credential, and bad ones made from good ones.
  bearer.administrator = await adminToken();
  for (const role of OfficialRole.options.filter((r) => r !== "administrator")) {
    bearer[role] = await officialToken(role);
  }
  await enrol(ELECTION, "EE-FUZZ-VOTER-1", "district-north");
  await enrol(ELECTION, "EE-FUZZ-VOTER-2", "district-north");
  bearer.voter = await voterSession(ELECTION, "EE-FUZZ-VOTER-1");
  knownVoterSession = await voterSession(ELECTION, "EE-FUZZ-VOTER-2");
  const receipt: { trackingCode: string } = await (await cast(ELECTION, knownVoterSession, NORTH_BALLOT)).json();
  const [header, payload, signature] = bearer.administrator.split(".");
  bearer.forged = `${header}.${payload}.${signature?.startsWith("A") ? "B" : "A"}${signature?.slice(1)}`;
  const aWeekAgo = Date.now() - 7 * 24 * 3_600_000;
  bearer["expired-official"] = await atTime(aWeekAgo, () => adminToken());
  bearer["expired-voter"] = await atTime(aWeekAgo, () => voterSession(ELECTION, "EE-FUZZ-VOTER-1"));
  bearer["garbage-bearer"] = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.";

  station = await registerStation(["district-north"], { serialRanges: [{ first: 1, last: 1_000 }] });

  known["electionId"] = [ELECTION, ELECTION, "demo-2026", "no-such-election"];
  known["stationId"] = [station.stationId, "no-such-station"];
  known["officialId"] = ["bootstrap-admin", "no-such-official"];
  known["kid"] = [`${station.stationId}-k1`, `${station.stationId}-bmd1`, "no-such-kid"];
  known["trackingCode"] = [receipt.trackingCode, "0000-0000-0000-0000"];
  known["version"] = ["1", "0", "-1", "99999999999999999999"];
  known["contestId"] = [...election.contests.keys()];
  known["optionIds"] = [...election.contests.values()].flatMap((contest) => contest.options.map((o) => o.id));
  known["ballotStyleId"] = [...election.ballotStyles.keys()];
  known["districtId"] = ["district-north", "district-east"];
  await settled();
}, 120_000);

describe("the API under generated bad input", () => {
  it(`answers ${REQUESTS.toLocaleString("en")} generated requests over every documented route with no 5xx, registered error codes and documented bodies`, async () => {
    expect(operations.length).toBeGreaterThan(40);
    const tally = newTally();
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(anyRequest(), async (r) => {
        await sendAndCheck(r, tally);
      }),
      { seed: SEED, numRuns: REQUESTS },
    );
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `api fuzz: ${tally.sent} requests in ${seconds.toFixed(1)} s; statuses ${JSON.stringify(Object.fromEntries([...tally.byStatus].sort((a, b) => a[0] - b[0])))}; ${tally.accepted.size} operations accepted a request`,
    );
    const neverAccepted = operations
      .map((o) => `${o.method.toUpperCase()} ${o.template}`)
      .filter((key) => !tally.accepted.has(key));
    console.log(`api fuzz: no request accepted by ${neverAccepted.join(", ")}`);
    expect(tally.sent).toBeGreaterThanOrEqual(REQUESTS);
    // Every documented operation was tried, and good credentials got through somewhere: a run
    // that only ever met the front door would prove little.
    const untried = operations.filter((o) => !tally.byOperation.has(`${o.method.toUpperCase()} ${o.template}`));
    expect(untried.map((o) => `${o.method} ${o.template}`)).toEqual([]);
    expect(tally.accepted.size).toBeGreaterThan(10);
  }, 600_000);

  it("changes nothing with requests it refuses", async () => {
    const tally = newTally();
    let compared = 0;
    let before = await settled();
    const batch = fc.array(anyRequest(), { minLength: 1, maxLength: 20 });
    await fc.assert(
      fc.asyncProperty(batch, async (requests) => {
        let acceptedWrite = false;
        for (const r of requests) {
          const status = await sendAndCheck(r, tally);
          if (r.method !== "GET" && status < 400) acceptedWrite = true;
        }
        if (acceptedWrite) {
          before = await settled();
          return;
        }
        const after = await snapshot();
        const changed = differences(before, after);
        if (changed.length > 0) {
          throw new Error(
            `refused requests changed state:\n  ${changed.join("\n  ")}\n  requests:\n  ${requests.map(describeRequest).join("\n  ")}`,
          );
        }
        compared += 1;
      }),
      { seed: SEED + 1, numRuns: 80 },
    );
    console.log(`api fuzz, state: ${tally.sent} requests, ${compared} all-refused batches compared`);
    expect(compared).toBeGreaterThan(50);
  }, 600_000);
});

// ---------------------------------------------------------------------------------------------
// Write-ins on both channels

/** The bytes a careless ballot-marking device would write for `text`: WTF-8 keeps a lone surrogate. */
function wtf8(text: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < text.length; i += 1) {
    const unit = text.charCodeAt(i);
    const next = text.charCodeAt(i + 1);
    if (unit >= 0xd800 && unit < 0xdc00 && next >= 0xdc00 && next < 0xe000) {
      out.push(...utf8(text.slice(i, i + 2)));
      i += 1;
    } else if (unit >= 0xd800 && unit < 0xe000) {
      out.push(0xe0 | (unit >> 12), 0x80 | ((unit >> 6) & 0x3f), 0x80 | (unit & 0x3f));
    } else {
      out.push(...utf8(text[i]!));
    }
  }
  return new Uint8Array(out);
}

/** A well-formed name of exactly `bytes` UTF-8 bytes (at most 80 characters for up to 240 bytes). */
function placeholder(bytes: number): string {
  const rest = bytes % 3;
  return "€".repeat(Math.floor(bytes / 3)) + (rest === 1 ? "Z" : rest === 2 ? "é" : "");
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i += 1) {
    for (let j = 0; j < needle.length; j += 1) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * The QR text of a marked ballot whose write-in is `text` as its bytes stand, signed by the
 * station's ballot-marking device: made for a well-formed stand-in of the same length, whose bytes
 * are then replaced and signed again (the encoder itself refuses an ill-formed name).
 */
async function markedBallotWithWriteIn(
  election: CompiledElection,
  bmd: TestStation["bmd"],
  serial: number,
  text: string,
): Promise<string> {
  const bytes = wtf8(text);
  const standIn = placeholder(bytes.length);
  const qr = await markedBallotQr(bmd, election, "bs-north", serial, [
    {
      contestId: "contest-president",
      optionIds: ["sel-president-write-in"],
      writeIns: { "sel-president-write-in": standIn },
    },
  ]);
  const decoded = qrBytesOf(qr);
  if (!decoded.ok) throw new Error("the stand-in's QR does not read");
  const signed = decoded.value.slice(0, decoded.value.length - 64);
  const at = indexOf(signed, utf8(standIn));
  if (at < 0) throw new Error("the stand-in is not in the payload");
  signed.set(bytes, at);
  const domain = utf8(`mixed-election/qr/v${QR_FORMAT_VERSION}/marked-ballot\u0000`);
  const signature = await bmd.sign(concatBytes(domain, signed));
  return qrText(concatBytes(signed, signature));
}

describe("write-ins", () => {
  it("are refused or accepted alike online and on a paper ballot's QR", async () => {
    await loadDemoElection({ electionId: WRITE_IN_ELECTION });
    const election = await compiledElection(WRITE_IN_ELECTION);
    const paper = await registerStation(["district-north"], { serialRanges: [{ first: 5_001, last: 6_000 }] });
    let serial = 5_000;
    let voter = 0;
    const seen = { refused: 0, accepted: 0 };

    const wellFormed = fc
      .oneof(
        fc.string({ unit: "grapheme", minLength: 1, maxLength: 30 }),
        fc
          .tuple(fc.string({ minLength: 1, maxLength: 10 }), fc.constantFrom("\u200F", "\u202E", "\u200D", "́"))
          .map(([a, b]) => `${a}${b}${a}`),
      )
      .filter((t) => writeInProblem(t) === undefined && t.trim() === t && wtf8(t).length <= 240);
    const illFormed = fc
      .tuple(
        fc.string({ minLength: 0, maxLength: 20 }),
        fc.oneof(controlCharacter, loneSurrogate, fc.constantFrom("\u0000", "\n", "\r\n", "\u001B", "\u0085")),
        fc.string({ minLength: 0, maxLength: 20 }),
      )
      .map(([a, bad, b]) => `x${a}${bad}${b}`)
      .filter((t) => t.length <= 80);

    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          illFormed.map((text) => ({ text, good: false })),
          wellFormed.map((text) => ({ text, good: true })),
        ),
        async ({ text, good }) => {
          voter += 1;
          const nationalId = `EE-FUZZ-WRITE-IN-${voter}`;
          await enrol(WRITE_IN_ELECTION, nationalId, "district-north");
          const online = await cast(WRITE_IN_ELECTION, await voterSession(WRITE_IN_ELECTION, nationalId), [
            {
              contestId: "contest-president",
              optionIds: ["sel-president-write-in"],
              writeIns: { "sel-president-write-in": text },
            },
          ]);
          await online.body?.cancel();

          await checkInVoters(paper, WRITE_IN_ELECTION, 1);
          serial += 1;
          const qr = await markedBallotWithWriteIn(election, paper.bmd, serial, text);
          const scan = await SELF.fetch(await scanRequest(paper, qr));
          const scanText = await scan.text();

          const expected = good ? "accepted" : "refused";
          const onPaper = scan.status < 300 ? "accepted" : scan.status < 500 ? "refused" : "failed";
          const onLine = online.status < 300 ? "accepted" : online.status < 500 ? "refused" : "failed";
          if (onLine !== expected || onPaper !== expected) {
            throw new Error(
              `write-in ${JSON.stringify(text)}: online ${online.status} (${onLine}), paper ${scan.status} (${onPaper}) ${scanText.slice(0, 200)}; expected both ${expected}`,
            );
          }
          seen[expected] += 1;
        },
      ),
      { seed: SEED + 2, numRuns: 40 },
    );
    expect(seen.refused).toBeGreaterThan(5);
    expect(seen.accepted).toBeGreaterThan(5);
  }, 300_000);
});

/** A scan of `qr` at `paper`, signed by the station's client key as its client would sign it. */
async function scanRequest(paper: TestStation, qr: string): Promise<Request> {
  const path = `/v1/stations/${paper.stationId}/ballots`;
  const body = JSON.stringify({
    electionId: WRITE_IN_ELECTION,
    scanId: crypto.randomUUID(),
    qr,
    scannedAt: new Date().toISOString(),
  });
  const signature = await signStationRequest(paper.privateJwk, {
    stationId: paper.stationId,
    origin: BASE,
    method: "POST",
    path,
    body,
  });
  return new Request(`${BASE}${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "cf-connecting-ip": "10.162.0.1",
      [STATION_SIGNATURE_HEADER]: signature,
    },
    body,
  });
}
