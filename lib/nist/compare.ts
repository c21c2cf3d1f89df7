/**
 * Differences between two sets of totals (lib/tally/totals.ts), per district, contest and
 * selection: the sequencer compares the tally with the log's records before it exports anything,
 * and the auditor compares the exported report with its own recount. Runtime-free.
 */
import type { ContestTotals, ElectionTotals } from "../tally/totals.ts";

function figuresOf(c: ContestTotals | undefined): { options: Map<string, number>; writeIns: number; blanks: number } {
  return {
    options: new Map((c?.options ?? []).map((o) => [o.optionId, o.votes])),
    writeIns: c?.writeIns ?? 0,
    blanks: c?.blanks ?? 0,
  };
}

/**
 * Every difference, each a sentence naming district, contest and option with both numbers;
 * empty when the two agree to the vote. A district or option missing on one side counts 0 there.
 */
export function totalsDifferences(a: ElectionTotals, b: ElectionTotals, aName: string, bName: string): string[] {
  const out: string[] = [];
  const aDistricts = new Map(a.districts.map((d) => [d.districtId, d]));
  const bDistricts = new Map(b.districts.map((d) => [d.districtId, d]));
  for (const districtId of [...new Set([...aDistricts.keys(), ...bDistricts.keys()])].sort()) {
    const da = aDistricts.get(districtId);
    const db = bDistricts.get(districtId);
    if ((da?.ballots ?? 0) !== (db?.ballots ?? 0))
      out.push(`district ${districtId}, ballots: ${aName} ${da?.ballots ?? 0}, ${bName} ${db?.ballots ?? 0}`);
    const contests = new Set([...(da?.contests ?? []), ...(db?.contests ?? [])].map((c) => c.contestId));
    for (const contestId of [...contests].sort()) {
      const fa = figuresOf(da?.contests.find((c) => c.contestId === contestId));
      const fb = figuresOf(db?.contests.find((c) => c.contestId === contestId));
      const where = `district ${districtId}, contest ${contestId}`;
      for (const optionId of [...new Set([...fa.options.keys(), ...fb.options.keys()])].sort()) {
        const x = fa.options.get(optionId) ?? 0;
        const y = fb.options.get(optionId) ?? 0;
        if (x !== y) out.push(`${where}, selection ${optionId}: ${aName} ${x}, ${bName} ${y}`);
      }
      if (fa.writeIns !== fb.writeIns)
        out.push(`${where}, write-ins: ${aName} ${fa.writeIns}, ${bName} ${fb.writeIns}`);
      if (fa.blanks !== fb.blanks) out.push(`${where}, blanks: ${aName} ${fa.blanks}, ${bName} ${fb.blanks}`);
    }
  }
  return out;
}
