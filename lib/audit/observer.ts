/**
 * What a public observer can check in a log beyond its own bookkeeping (lib/audit/recount.ts):
 * the records against the election's public definition, the poll times, the cross-channel
 * policy, and each polling station's figures against its signed result sheet, whose signature is
 * checked with the station key the log itself published (security review M6). Runtime-free: the
 * auditor CLI and the tests share it. Feed every entry in order with add(), then finish().
 *
 * Rules (each broken rule is a problem naming the entry index, or the station at the end):
 * - with the public election summary (GET /v1/elections/{id}): each cast vote record's district is
 *   one of the election's; its ballot style is one of the election's, serves its district, and
 *   the record lists that style's contests: all of them (a whole-ballot `cast-vote-record`), or
 *   one of them (a `contest-vote-record`); every marked option belongs to its contest;
 *   no contest has more marks than its votes allowed; a mark is flagged write-in exactly when its
 *   option is the contest's write-in option. The summary's definition version and digest must be
 *   those of the last `definition-loaded` entry.
 * - no `definition-loaded` after `polls-opened`, nor a station, device key, serial range, sheet
 *   key or roll chunk added (revocations may come at any time); `polls-opened.at` and
 *   `polls-closed.at` are the last definition's opensAt and closesAt; every ballot's minute of
 *   acceptance lies within the polls, a paper ballot's up to the summary's paper sync grace after
 *   the close (ballots reach the log through queues, so a ballot accepted a second before the
 *   close may be logged after `polls-closed`: its acceptance time counts, not its place);
 * - an early close (`polls-closed-early`) takes effect after it was logged and before the scheduled
 *   close, and voting is closed early at most once until it is reopened (`polls-reopened`, before
 *   the scheduled close, only while closed early); no online ballot and no check-in was accepted
 *   in a minute that lies wholly between an early close's effective instant and the next reopening
 *   (or the end of the log): their minutes are floored, so a minute the instant falls inside is
 *   given the benefit of the doubt. Paper ballots are left out of this rule, since their time is
 *   when the station synced them, which may be after the close for ballots scanned before it;
 * - under `first-wins` nothing is retracted; under either policy no paper ballot is retracted
 *   (checked once the `retraction-key` entry lets a retraction's blinded code be matched to the
 *   tracking code of its ballot: lib/audit/recount.ts checks that each matches exactly one);
 * - every key entry's thumbprint is the RFC 7638 thumbprint of the public key it carries;
 * - every `station-results` sheet is signed (its QR text), by a client device key of that station
 *   (never a ballot-marking device's) that the log published before the sheet and had not revoked, and says what the entry says
 *   (station, sequence, closing time, voters checked in, ballots cast);
 * - per station, once the log is complete (the polls closed and a round of cast vote records was
 *   published, which waits for the queues to drain): paper ballot entries <= check-in entries,
 *   and the station's latest sheet states exactly those two numbers.
 */
import * as z from "zod";
import { trackingCodeOf } from "../ballot/commitment.ts";
import { base64urlDecode, hexEncode } from "../bytes.ts";
import { sha256Hex } from "../digest.ts";
import { qrKeyIdBytes } from "../qr/keys.ts";
import { verifyResultSheetText } from "../qr/payload.ts";
import { CastVoteRecordsMode, CrossChannelPolicy } from "../vocabulary.ts";
import { retractionBlind, retractionBlindingKey, type LogEntry, type LogEntryOf } from "./entries.ts";

/** The parts of the public election summary (GET /v1/elections/{id}) these rules read. */
export const PublicElection = z.object({
  electionId: z.string(),
  policies: z.object({
    crossChannelPolicy: CrossChannelPolicy,
    /** Absent from older summaries: then a record may list one contest or all of its style's. */
    castVoteRecords: CastVoteRecordsMode.optional(),
    /** How long after the close a station may still sync paper ballots scanned before it. */
    paperSyncGraceMinutes: z.number().int().min(0).optional(),
  }),
  districts: z.array(z.object({ id: z.string() })),
  contests: z.array(
    z.object({
      id: z.string(),
      votesAllowed: z.number().int().min(0),
      options: z.array(z.object({ id: z.string(), isWriteIn: z.boolean() })),
    }),
  ),
  ballotStyles: z.array(
    z.object({ id: z.string(), districtIds: z.array(z.string()), contestIds: z.array(z.string()) }),
  ),
  /** The stored definition's version and SHA-256, as its definition-loaded entry logs them. */
  definition: z.object({ version: z.number().int(), sha256: z.string() }),
});
export type PublicElection = z.infer<typeof PublicElection>;

interface StationFigures {
  paperBallots: number;
  checkIns: number;
  sheet?: { readonly index: number; readonly entry: LogEntryOf<"station-results"> };
}

interface PublishedKey {
  readonly stationId: string;
  readonly role: LogEntryOf<"station-key-added">["role"];
  readonly raw: Uint8Array;
  revoked: boolean;
}

export class ObserverChecks {
  private readonly problems: string[] = [];
  private readonly election: PublicElection | undefined;
  private definition: LogEntryOf<"definition-loaded"> | undefined;
  private pollsOpened = false;
  private pollsClosed = false;
  private recordsPublished = false;
  /** Tracking code -> channel of the ballots logged so far. */
  private readonly channels = new Map<string, LogEntryOf<"ballot">["channel"]>();
  /** Blinded code -> channel, once the retraction key is logged. */
  private blindedChannels: Map<string, LogEntryOf<"ballot">["channel"]> | undefined;
  private blindingKey: CryptoKey | undefined;
  /** Retractions logged before the key: checked when it comes. */
  private readonly retractions: { readonly index: number; readonly blindedCode: string }[] = [];
  private readonly stations = new Map<string, StationFigures>();
  /** QR key id (hex) -> the station device key the log published. */
  private readonly stationKeys = new Map<string, PublishedKey>();
  private readonly keyIdsByKid = new Map<string, string>();
  /** The early close in force (effective instant, ms), while not reopened. */
  private closedEarlyAtMs: number | undefined;
  /** Online ballots and check-ins accepted at or after it, judged when the reopening comes. */
  private afterEarlyClose: { readonly index: number; readonly what: string; readonly minuteMs: number }[] = [];

  constructor(election?: PublicElection) {
    this.election = election;
  }

  private problem(index: number, text: string): void {
    if (this.problems.length < 1000) this.problems.push(`entry ${index}: ${text}`);
  }

  private station(id: string): StationFigures {
    let figures = this.stations.get(id);
    if (!figures) {
      figures = { paperBallots: 0, checkIns: 0 };
      this.stations.set(id, figures);
    }
    return figures;
  }

  async add(index: number, entry: LogEntry): Promise<void> {
    switch (entry.type) {
      case "definition-loaded":
        if (this.pollsOpened)
          this.problem(index, `definition version ${entry.version} is loaded after the polls opened`);
        this.definition = entry;
        break;
      case "polls-opened":
        if (this.definition && entry.at !== this.definition.opensAt)
          this.problem(index, `the polls opened at ${entry.at}, the definition says ${this.definition.opensAt}`);
        this.pollsOpened = true;
        break;
      case "polls-closed":
        if (this.definition && entry.at !== this.definition.closesAt)
          this.problem(index, `the polls closed at ${entry.at}, the definition says ${this.definition.closesAt}`);
        this.pollsClosed = true;
        break;
      case "ballot": {
        this.ballot(index, entry);
        if (entry.channel === "online") this.whileClosedEarly(index, "an online ballot", entry.acceptedAt);
        const trackingCode = await trackingCodeOf(entry.commitment);
        this.channels.set(trackingCode, entry.channel);
        if (this.blindingKey && this.blindedChannels)
          this.blindedChannels.set(await retractionBlind(this.blindingKey, trackingCode), entry.channel);
        if (entry.channel === "paper") this.station(entry.stationId).paperBallots += 1;
        break;
      }
      case "retraction":
        if (this.definition?.crossChannelPolicy === "first-wins")
          this.problem(index, `a ballot is retracted under first-wins, which retracts nothing`);
        if (this.blindedChannels) this.retractionChannel(index, entry.blindedCode);
        else this.retractions.push({ index, blindedCode: entry.blindedCode });
        break;
      case "retraction-key": {
        if (this.blindedChannels) break; // a second key is LogAuditor's problem to report
        this.blindingKey = await retractionBlindingKey(entry.key);
        this.blindedChannels = new Map();
        for (const [trackingCode, channel] of this.channels)
          this.blindedChannels.set(await retractionBlind(this.blindingKey, trackingCode), channel);
        for (const { index: at, blindedCode } of this.retractions.splice(0)) this.retractionChannel(at, blindedCode);
        break;
      }
      case "check-in":
        this.station(entry.stationId).checkIns += 1;
        this.whileClosedEarly(index, `a check-in at station ${entry.stationId}`, entry.at);
        break;
      case "polls-closed-early":
        this.closedEarly(index, entry);
        break;
      case "polls-reopened":
        this.reopened(index, entry);
        break;
      case "station-results":
        await this.sheet(index, entry);
        break;
      case "station-key-added": {
        this.lockedAfterOpening(index, `station ${entry.stationId}'s device key ${entry.kid} is added`);
        this.thumbprint(index, entry);
        const raw = base64urlDecode(entry.publicKey);
        if (!raw) break;
        const keyId = hexEncode(await qrKeyIdBytes(raw));
        this.stationKeys.set(keyId, { stationId: entry.stationId, role: entry.role, raw, revoked: false });
        this.keyIdsByKid.set(entry.kid, keyId);
        break;
      }
      case "station-key-revoked": {
        const keyId = this.keyIdsByKid.get(entry.kid);
        const key = keyId === undefined ? undefined : this.stationKeys.get(keyId);
        if (key) key.revoked = true;
        break;
      }
      case "station-revoked":
        for (const key of this.stationKeys.values()) if (key.stationId === entry.stationId) key.revoked = true;
        break;
      case "cast-vote-record":
        this.record(index, entry, false);
        break;
      case "contest-vote-record":
        this.record(index, { ...entry, contests: [{ contestId: entry.contestId, marks: entry.marks }] }, true);
        break;
      case "station-registered":
        this.lockedAfterOpening(index, `station ${entry.stationId} is registered`);
        break;
      case "serial-range-issued":
        this.lockedAfterOpening(
          index,
          `serials ${entry.first} (${entry.count}) are issued to station ${entry.stationId}`,
        );
        break;
      case "sheet-key-added":
        this.lockedAfterOpening(index, `sheet key ${entry.kid} is added`);
        this.thumbprint(index, entry);
        break;
      case "roll-imported":
        this.lockedAfterOpening(index, `a roll chunk (line ${entry.firstLine}) is imported`);
        break;
      case "cast-vote-records-published":
        this.recordsPublished = true;
        break;
      default:
        break;
    }
  }

  private closedEarly(index: number, entry: LogEntryOf<"polls-closed-early">): void {
    const effective = Date.parse(entry.effectiveAt);
    if (this.closedEarlyAtMs !== undefined)
      this.problem(index, `voting is closed early again at ${entry.effectiveAt} without having been reopened`);
    if (effective <= Date.parse(entry.at))
      this.problem(index, `an early close logged at ${entry.at} takes effect before it, at ${entry.effectiveAt}`);
    if (this.definition && effective >= Date.parse(this.definition.closesAt))
      this.problem(index, `an early close at ${entry.effectiveAt} is not before the scheduled close`);
    this.closedEarlyAtMs ??= effective;
  }

  private reopened(index: number, entry: LogEntryOf<"polls-reopened">): void {
    if (this.closedEarlyAtMs === undefined) {
      this.problem(index, `voting is reopened at ${entry.at} though it was not closed early`);
      return;
    }
    if (this.definition && Date.parse(entry.at) >= Date.parse(this.definition.closesAt))
      this.problem(index, `voting is reopened at ${entry.at}, after the scheduled close`);
    this.reportClosedEarly(Date.parse(entry.at));
    this.closedEarlyAtMs = undefined;
  }

  /** Remembers an online ballot or check-in accepted in a minute that starts after an early close. */
  private whileClosedEarly(index: number, what: string, minute: string): void {
    const minuteMs = Date.parse(minute);
    if (this.closedEarlyAtMs !== undefined && minuteMs >= this.closedEarlyAtMs && this.afterEarlyClose.length < 1000)
      this.afterEarlyClose.push({ index, what, minuteMs });
  }

  /** Those whose whole minute lies before `untilMs` (the reopening, or the end of the log) are problems. */
  private reportClosedEarly(untilMs: number): void {
    for (const { index, what, minuteMs } of this.afterEarlyClose.splice(0)) {
      if (minuteMs + 60_000 <= untilMs)
        this.problem(
          index,
          `${what} accepted at ${new Date(minuteMs).toISOString()}, after voting was closed early from ${new Date(this.closedEarlyAtMs ?? 0).toISOString()}`,
        );
    }
  }

  /** A key entry's thumbprint is the RFC 7638 SHA-256 thumbprint of the public key it carries. */
  private thumbprint(index: number, entry: LogEntryOf<"station-key-added" | "sheet-key-added">): void {
    // RFC 7638: the required members of an OKP key, in lexicographic order, no whitespace.
    const expected = sha256Hex(`{"crv":"Ed25519","kty":"OKP","x":"${entry.publicKey}"}`);
    if (expected !== entry.thumbprint)
      this.problem(index, `key ${entry.kid}'s thumbprint is not the thumbprint of the public key logged with it`);
  }

  /** Signing keys, serial ranges and the roll are fixed once the polls open (revocations are not). */
  private lockedAfterOpening(index: number, what: string): void {
    if (this.pollsOpened) this.problem(index, `${what} after the polls opened`);
  }

  private retractionChannel(index: number, blindedCode: string): void {
    if (this.blindedChannels?.get(blindedCode) === "paper")
      this.problem(index, `a paper ballot is retracted: a paper ballot is never retracted`);
  }

  private ballot(index: number, entry: LogEntryOf<"ballot">): void {
    if (!this.definition) {
      this.problem(index, "a ballot is logged before any definition");
      return;
    }
    const at = Date.parse(entry.acceptedAt);
    const opens = Date.parse(this.definition.opensAt);
    // Acceptance times are whole minutes, floored: the opening minute counts.
    // Paper ballots an offline station scanned before the close may be synced within the grace.
    const grace = entry.channel === "paper" ? (this.election?.policies.paperSyncGraceMinutes ?? 0) * 60_000 : 0;
    if (at < opens - (opens % 60_000) || at >= Date.parse(this.definition.closesAt) + grace)
      this.problem(
        index,
        `a ${entry.channel} ballot accepted at ${entry.acceptedAt}, outside the polls (${this.definition.opensAt} to ${this.definition.closesAt})`,
      );
  }

  /** A whole-ballot record, or one contest of a ballot (`perContest`) in the same shape. */
  private record(
    index: number,
    entry: Pick<LogEntryOf<"cast-vote-record">, "districtId" | "ballotStyleId" | "contests">,
    perContest: boolean,
  ): void {
    const election = this.election;
    if (!election) return;
    if (!election.districts.some((d) => d.id === entry.districtId))
      this.problem(index, `a cast vote record of district ${entry.districtId}, which is not the election's`);
    const style = election.ballotStyles.find((s) => s.id === entry.ballotStyleId);
    if (!style) {
      this.problem(index, `a cast vote record of ballot style ${entry.ballotStyleId}, which is not the election's`);
      return;
    }
    if (!style.districtIds.includes(entry.districtId))
      this.problem(index, `ballot style ${style.id} is not the style of district ${entry.districtId}`);
    // A whole-ballot record lists every contest of its style; a per-contest record lists one.
    const listed = entry.contests.map((c) => c.contestId).sort();
    const expected = [...style.contestIds].sort();
    const foreign = listed.filter((c, i) => !expected.includes(c) || listed[i - 1] === c);
    // Which kind of record the definition asks for is LogAuditor's check; here, the shape.
    const wrongShape = perContest ? listed.length !== 1 : listed.join("\u0000") !== expected.join("\u0000");
    if (foreign.length > 0 || wrongShape)
      this.problem(
        index,
        `a record of style ${style.id} lists contests ${listed.join(", ")}; the style has ${expected.join(", ")}`,
      );
    for (const contest of entry.contests) {
      const defined = election.contests.find((c) => c.id === contest.contestId);
      if (!defined) continue;
      if (contest.marks.length > defined.votesAllowed)
        this.problem(
          index,
          `contest ${contest.contestId} has ${contest.marks.length} marks, ${defined.votesAllowed} allowed`,
        );
      for (const mark of contest.marks) {
        const option = defined.options.find((o) => o.id === mark.optionId);
        if (!option) this.problem(index, `option ${mark.optionId} is not one of contest ${contest.contestId}`);
        else if (option.isWriteIn !== mark.writeIn)
          this.problem(
            index,
            `option ${mark.optionId} of contest ${contest.contestId} is ${option.isWriteIn ? "" : "not "}a write-in, the record says otherwise`,
          );
      }
    }
  }

  private async sheet(index: number, entry: LogEntryOf<"station-results">): Promise<void> {
    const figures = this.station(entry.stationId);
    if (!figures.sheet || figures.sheet.entry.sequence < entry.sequence) figures.sheet = { index, entry };
    if (entry.sheet === "") {
      this.problem(index, `station ${entry.stationId}'s result sheet ${entry.sequence} carries no signed sheet`);
      return;
    }
    let signer: PublishedKey | undefined;
    const verified = await verifyResultSheetText(entry.sheet, (keyId) => {
      signer = this.stationKeys.get(keyId);
      return signer?.raw;
    });
    if (!verified.ok) {
      this.problem(
        index,
        `station ${entry.stationId}'s result sheet ${entry.sequence} does not verify with a station key the log published: ${verified.error.message}`,
      );
      return;
    }
    if (signer?.stationId !== entry.stationId)
      this.problem(
        index,
        `station ${entry.stationId}'s result sheet is signed by a key of station ${signer?.stationId}`,
      );
    else if (signer.role !== "client")
      this.problem(
        index,
        `station ${entry.stationId}'s result sheet is signed by a ballot-marking device's key, which signs marked ballots only`,
      );
    else if (signer.revoked)
      this.problem(index, `station ${entry.stationId}'s result sheet is signed by a key revoked before it was logged`);
    const sheet = verified.value;
    const stated: [string, unknown, unknown][] = [
      ["station", sheet.stationId, entry.stationId],
      ["sequence", sheet.sequence, entry.sequence],
      ["closing time", Date.parse(sheet.closedAt), Date.parse(entry.closedAt)],
      ["voters checked in", sheet.votersCheckedIn, entry.votersCheckedIn],
      ["ballots cast", sheet.ballotsCast, entry.ballotsCast],
    ];
    for (const [what, signed, logged] of stated)
      if (signed !== logged)
        this.problem(
          index,
          `the signed sheet of station ${entry.stationId} says ${what} ${String(signed)}, the entry ${String(logged)}`,
        );
  }

  /** The broken rules, in log order, then the per-station figures once the log is complete. */
  finish(): string[] {
    // Still closed early at the end of the log: whatever was accepted after the close counts.
    this.reportClosedEarly(Number.POSITIVE_INFINITY);
    const out = [...this.problems];
    if (this.election && this.definition) {
      const { version, sha256 } = this.election.definition;
      if (version !== this.definition.version || sha256 !== this.definition.definitionSha256)
        out.push(
          `the published definition is version ${version} (${sha256}), the log's last is version ${this.definition.version} (${this.definition.definitionSha256})`,
        );
    }
    for (const [stationId, f] of [...this.stations].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      // Until the polls closed and the queues drained, some check-ins or ballots may still come.
      if (!this.pollsClosed || !this.recordsPublished) break;
      if (f.paperBallots > f.checkIns)
        out.push(`station ${stationId}: ${f.paperBallots} paper ballots but only ${f.checkIns} check-ins`);
      if (!f.sheet) continue;
      const { entry, index } = f.sheet;
      if (entry.ballotsCast !== f.paperBallots)
        out.push(
          `station ${stationId}: its sheet (entry ${index}) says ${entry.ballotsCast} ballots cast, the log has ${f.paperBallots} paper ballots`,
        );
      if (entry.votersCheckedIn !== f.checkIns)
        out.push(
          `station ${stationId}: its sheet (entry ${index}) says ${entry.votersCheckedIn} voters checked in, the log has ${f.checkIns} check-ins`,
        );
    }
    return out;
  }
}
