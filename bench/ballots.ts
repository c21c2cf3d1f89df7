/**
 * Valid ballots of the demo election (elections/demo/election.json) for each of its districts, as
 * a voter would mark them: every contest of the district's ballot style. The president choice
 * rotates with the voter's number, so the tally check can compare per-option totals, not only the
 * number of ballots.
 */
export const DEMO_DISTRICTS = ["district-north", "district-south", "district-east"] as const;
export type DemoDistrict = (typeof DEMO_DISTRICTS)[number];

const STYLE: Record<DemoDistrict, string> = {
  "district-north": "bs-north",
  "district-south": "bs-south",
  "district-east": "bs-east",
};

export function styleOf(district: DemoDistrict): string {
  return STYLE[district];
}

export function isDemoDistrict(value: string): value is DemoDistrict {
  return (DEMO_DISTRICTS as readonly string[]).includes(value);
}

export const PRESIDENT_CONTEST = "contest-president";
export const PRESIDENT_OPTIONS = [
  "sel-president-aino-tamm",
  "sel-president-juhan-mets",
  "sel-president-liis-kask",
] as const;

export interface ContestMarks {
  readonly contestId: string;
  readonly optionIds: readonly string[];
}

/** The president option voter `n` (1-based) marks. */
export function presidentChoiceOf(n: number): string {
  return PRESIDENT_OPTIONS[n % PRESIDENT_OPTIONS.length] ?? PRESIDENT_OPTIONS[0];
}

export function ballotOf(district: DemoDistrict, n: number): ContestMarks[] {
  const president = { contestId: PRESIDENT_CONTEST, optionIds: [presidentChoiceOf(n)] };
  switch (district) {
    case "district-north":
      return [
        president,
        { contestId: "contest-parliament-north", optionIds: ["sel-parliament-north-mari-saar"] },
        { contestId: "contest-referendum-voting-age", optionIds: ["sel-referendum-voting-age-yes"] },
      ];
    case "district-south":
      return [
        president,
        { contestId: "contest-parliament-south", optionIds: ["sel-parliament-south-helena-rebane"] },
        { contestId: "contest-referendum-voting-age", optionIds: ["sel-referendum-voting-age-no"] },
      ];
    case "district-east":
      return [
        president,
        { contestId: "contest-parliament-east", optionIds: ["sel-parliament-east-olga-petrova"] },
        { contestId: "contest-council-east", optionIds: ["sel-council-east-anna-laur", "sel-council-east-eva-sild"] },
      ];
  }
}
