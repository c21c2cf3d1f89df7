/**
 * `admin sheets print`: one signed QR image per blank ballot sheet and a print page; every image,
 * read back by a QR decoder, is a ballot sheet of the right election, style and serial, signed by
 * the authority key given. Bad arguments are refused before anything is written.
 */
import { readFileSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import jsQR from "jsqr";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { printSheets, SheetsError, sheetsCommands } from "../../cli/commands/sheets.ts";
import { parseDefinition } from "../../lib/election/definition.ts";
import { generateSigningKey } from "../../lib/identity/keys.ts";
import { qrKeyId } from "../../lib/qr/keys.ts";
import { readSignedQrPayload } from "../../lib/qr/payload.ts";

const DEFINITION = "elections/demo/election.json";
/** The demo with a ballot order of its own (testdata/README.md). */
const ROTATED = "testdata/nist/demo-rotated.json";

let dir: string;
let keyFile: string;
let publicKey: Uint8Array;
let keyId: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sheets-"));
  const { privateJwk, publicJwk } = await generateSigningKey("authority-demo-2026");
  keyFile = join(dir, "authority.jwk.json");
  await writeFile(keyFile, JSON.stringify(privateJwk));
  publicKey = Uint8Array.from(Buffer.from(String(publicJwk.x), "base64url"));
  const id = await qrKeyId(publicJwk);
  if (!id.ok) throw new Error(id.error.message);
  keyId = id.value;
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function election() {
  return parseDefinition(JSON.parse(readFileSync(DEFINITION, "utf8")));
}

async function scan(path: string): Promise<string> {
  const image = PNG.sync.read(await readFile(path));
  const code = jsQR(new Uint8ClampedArray(image.data), image.width, image.height);
  if (!code) throw new Error(`no QR code in ${path}`);
  return code.data;
}

describe("admin sheets print", () => {
  it("writes one verifiable PNG per serial and a print page", async () => {
    const out = join(dir, "png");
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    await sheetsCommands().parseAsync(
      [
        "print",
        "demo-2026",
        "--style",
        "bs-east",
        "--from",
        "98",
        "--count",
        "3",
        "--out",
        out,
        "--key",
        keyFile,
        "--definition",
        DEFINITION,
      ],
      { from: "user" },
    );
    expect(log).toHaveBeenCalledWith(
      expect.stringContaining(
        `wrote 3 sheets (QR version 6, level M) and index.html to ${out}; authority key id ${keyId}`,
      ),
    );
    log.mockRestore();

    expect((await readdir(out)).sort()).toEqual([
      "demo-2026_bs-east_098.png",
      "demo-2026_bs-east_099.png",
      "demo-2026_bs-east_100.png",
      "index.html",
    ]);
    const compiled = election();
    if (!compiled.ok) throw new Error("the demo election does not compile");
    for (const serial of [98, 99, 100]) {
      const text = await scan(join(out, `demo-2026_bs-east_${String(serial).padStart(3, "0")}.png`));
      const read = await readSignedQrPayload(text, compiled.value.election, async (id, type) =>
        id === keyId && type === "ballot-sheet" ? publicKey : undefined,
      );
      if (!read.ok) throw new Error(read.error.message);
      expect(read.value.fields).toEqual({ electionId: "demo-2026", ballotStyleId: "bs-east", serial });
    }
    const page = await readFile(join(out, "index.html"), "utf8");
    expect(page).toContain('<img src="demo-2026_bs-east_099.png"');
    expect(page).toContain("sheet <b>100</b>");
    expect(page).toContain(keyId);
  });

  it("writes SVG on request", async () => {
    const out = join(dir, "svg");
    const { files, version } = await printSheets("demo-2026", {
      style: "bs-north",
      from: 1,
      count: 2,
      out,
      key: keyFile,
      definition: DEFINITION,
      format: "svg",
    });
    expect(files.slice(0, 2).sort()).toEqual(["demo-2026_bs-north_1.svg", "demo-2026_bs-north_2.svg"]);
    expect(files[2]).toBe("index.html");
    expect(version).toBe(6);
    expect(await readFile(join(out, files[0]!), "utf8")).toMatch(/^<svg /);
  });

  it("lays the sheets out in a shuffled order, every serial once", async () => {
    const out = join(dir, "shuffled");
    const { files } = await printSheets("demo-2026", {
      style: "bs-north",
      from: 1,
      count: 40,
      out,
      key: keyFile,
      definition: DEFINITION,
      format: "svg",
    });
    const page = await readFile(join(out, "index.html"), "utf8");
    const onPage = [...page.matchAll(/sheet <b>(\d+)<\/b>/g)].map((m) => Number(m[1]));
    const ascending = Array.from({ length: 40 }, (_, i) => i + 1);
    expect([...onPage].sort((a, b) => a - b)).toEqual(ascending);
    // In order with probability 1/40!: a page in serial order means no shuffle.
    expect(onPage).not.toEqual(ascending);
    expect(files.slice(0, 40).map((f) => Number(/_(\d+)\.svg$/.exec(f)?.[1]))).toEqual(onPage);
  });

  it("prints each sheet's ballot in the style's order, its QR code unchanged by that order", async () => {
    const out = join(dir, "rotated");
    await printSheets("demo-rotated", {
      style: "bs-north",
      from: 5,
      count: 2,
      out,
      key: keyFile,
      definition: ROTATED,
      format: "png",
    });
    const page = await readFile(join(out, "index.html"), "utf8");
    const sheets = page.split('<article class="sheet">').slice(1);
    expect(sheets).toHaveLength(2);
    for (const sheet of sheets) {
      const contests = [...sheet.matchAll(/<section class="contest" data-contest="([^"]+)">([\s\S]*?)<\/section>/g)];
      expect(
        contests.map((m) => [m[1], [...(m[2] ?? "").matchAll(/data-option="([^"]+)"/g)].map((o) => o[1])]),
      ).toEqual([
        [
          "contest-parliament-north",
          ["sel-parliament-north-kadri-lepp", "sel-parliament-north-toomas-kivi", "sel-parliament-north-mari-saar"],
        ],
        [
          "contest-president",
          ["sel-president-liis-kask", "sel-president-aino-tamm", "sel-president-juhan-mets", "sel-president-write-in"],
        ],
        ["contest-referendum-voting-age", ["sel-referendum-voting-age-yes", "sel-referendum-voting-age-no"]],
      ]);
      expect(sheet.indexOf("Liis Kask")).toBeLessThan(sheet.indexOf("Aino Tamm"));
    }
    // The code names the election, the style and the serial, nothing of the order.
    const compiled = parseDefinition(JSON.parse(readFileSync(ROTATED, "utf8")));
    if (!compiled.ok) throw new Error("the rotated demo does not compile");
    const read = await readSignedQrPayload(
      await scan(join(out, "demo-rotated_bs-north_5.png")),
      compiled.value.election,
      async (id, type) => (id === keyId && type === "ballot-sheet" ? publicKey : undefined),
    );
    if (!read.ok) throw new Error(read.error.message);
    expect(read.value.fields).toEqual({ electionId: "demo-rotated", ballotStyleId: "bs-north", serial: 5 });
  });

  it("prints a ballot written under headers with its sections, nested ones a heading rank deeper", async () => {
    const out = join(dir, "sections");
    await printSheets("demo-2026", {
      style: "bs-district-east",
      from: 1,
      count: 1,
      out,
      key: keyFile,
      definition: "testdata/nist/demo-other-style.json",
      format: "png",
    });
    const page = await readFile(join(out, "index.html"), "utf8");
    const sheet = page.split('<article class="sheet">')[1] ?? "";
    const outline = [...sheet.matchAll(/<h(\d)( class="ballot-section")?>([^<]*)<\/h\d>/g)].map(
      (m) => `${m[2] ? "section" : "contest"} h${m[1]} ${m[3]}`,
    );
    expect(outline).toEqual([
      "section h2 Referendum",
      "contest h3 Referendum on the voting age",
      "section h2 Offices",
      "section h3 National",
      "contest h4 President of the Republic",
      "section h3 District",
      "contest h4 East District Council",
      "contest h4 Member of Parliament, East District",
    ]);
  });

  it("refuses a style the election lacks, another election's definition, a key that is not Ed25519", async () => {
    const base = {
      from: 1,
      count: 1,
      out: join(dir, "refused"),
      key: keyFile,
      definition: DEFINITION,
      format: "png",
    } as const;
    await expect(printSheets("demo-2026", { ...base, style: "bs-west" })).rejects.toThrow(
      /has no ballot style bs-west \(it has bs-north, bs-south, bs-east\)/,
    );
    await expect(printSheets("other-2026", { ...base, style: "bs-east" })).rejects.toThrow(
      /for election demo-2026, not other-2026/,
    );
    const publicOnly = join(dir, "public.json");
    await writeFile(
      publicOnly,
      JSON.stringify({ kty: "OKP", crv: "Ed25519", x: Buffer.from(publicKey).toString("base64url") }),
    );
    await expect(printSheets("demo-2026", { ...base, style: "bs-east", key: publicOnly })).rejects.toBeInstanceOf(
      SheetsError,
    );
    await expect(
      printSheets("demo-2026", { ...base, style: "bs-east", key: join(dir, "missing.json") }),
    ).rejects.toThrow(/cannot read/);
    await expect(readdir(base.out)).rejects.toThrow(); // nothing written
  });

  it("refuses a count outside 1-100,000 while parsing the arguments", async () => {
    const command = sheetsCommands();
    const print = command.commands.find((c) => c.name() === "print")!;
    print.exitOverride().configureOutput({ writeErr: () => {} });
    await expect(
      command.parseAsync(
        ["print", "demo-2026", "--style", "bs-east", "--from", "1", "--count", "0", "--out", dir, "--key", keyFile],
        { from: "user" },
      ),
    ).rejects.toThrow(/expected 1 to 100000/);
  });
});
