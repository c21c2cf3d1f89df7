/**
 * A typed view of the parts of a NIST SP 1500-100 rev.2 ElectionReport that we compile. It is
 * deliberately weaker than the NIST JSON schema (nist-schema.ts): it checks only the fields we
 * read, keeps every other field as it came (loose objects), and has no constraint the NIST schema
 * does not also have. So a report that passes the NIST schema always parses here, and a report
 * with NIST schema problems can often still be checked for meaning, and all problems listed.
 */
import * as z from "zod";

const Id = z.string();
const IdList = z.array(Id);

export const InternationalizedText = z.looseObject({
  Text: z.array(z.looseObject({ Content: z.string(), Language: z.string() })),
});
export type InternationalizedText = z.infer<typeof InternationalizedText>;

export const ExternalIdentifier = z.looseObject({
  Type: z.string(),
  OtherType: z.string().optional(),
  Value: z.string(),
});

const ReportingUnit = z.looseObject({
  "@type": z.literal("ElectionResults.ReportingUnit"),
  "@id": Id,
  Type: z.string(),
  Name: InternationalizedText.optional(),
  ComposingGpUnitIds: IdList.optional(),
});

const ReportingDevice = z.looseObject({
  "@type": z.literal("ElectionResults.ReportingDevice"),
  "@id": Id,
  ComposingGpUnitIds: IdList.optional(),
});

export const GpUnit = z.discriminatedUnion("@type", [ReportingUnit, ReportingDevice]);
export type GpUnit = z.infer<typeof GpUnit>;

const partyFields = {
  "@id": Id,
  Name: InternationalizedText.optional(),
  Abbreviation: InternationalizedText.optional(),
};

export const Party = z.discriminatedUnion("@type", [
  z.looseObject({ "@type": z.literal("ElectionResults.Party"), ...partyFields }),
  z.looseObject({ "@type": z.literal("ElectionResults.Coalition"), ...partyFields, PartyIds: IdList.optional() }),
]);

export const Header = z.looseObject({
  "@type": z.literal("ElectionResults.Header"),
  "@id": Id,
  Name: InternationalizedText.optional(),
});

export const Candidate = z.looseObject({
  "@type": z.literal("ElectionResults.Candidate"),
  "@id": Id,
  BallotName: InternationalizedText,
  PartyId: Id.optional(),
});
export type Candidate = z.infer<typeof Candidate>;

/** NIST SequenceOrder: an item's place among its siblings (contests, or a contest's selections). */
const SequenceOrder = z.number().int().optional();

const CandidateSelection = z.looseObject({
  "@type": z.literal("ElectionResults.CandidateSelection"),
  "@id": Id,
  SequenceOrder,
  CandidateIds: IdList.optional(),
  EndorsementPartyIds: IdList.optional(),
  IsWriteIn: z.boolean().optional(),
});

const BallotMeasureSelection = z.looseObject({
  "@type": z.literal("ElectionResults.BallotMeasureSelection"),
  "@id": Id,
  SequenceOrder,
  Selection: InternationalizedText,
});

const PartySelection = z.looseObject({
  "@type": z.literal("ElectionResults.PartySelection"),
  "@id": Id,
  SequenceOrder,
  PartyIds: IdList,
});

export const ContestSelection = z.discriminatedUnion("@type", [
  CandidateSelection,
  BallotMeasureSelection,
  PartySelection,
]);
export type ContestSelection = z.infer<typeof ContestSelection>;

const contestFields = {
  "@id": Id,
  ElectionDistrictId: Id,
  Name: z.string(),
  BallotTitle: InternationalizedText.optional(),
  BallotSubTitle: InternationalizedText.optional(),
  ContestSelection: z.array(ContestSelection).optional(),
  VoteVariation: z.string().optional(),
  SequenceOrder,
};

export const Contest = z.discriminatedUnion("@type", [
  z.looseObject({
    "@type": z.literal("ElectionResults.CandidateContest"),
    ...contestFields,
    VotesAllowed: z.number().int(),
  }),
  z.looseObject({
    "@type": z.literal("ElectionResults.BallotMeasureContest"),
    ...contestFields,
    FullText: InternationalizedText.optional(),
    SummaryText: InternationalizedText.optional(),
  }),
  z.looseObject({ "@type": z.literal("ElectionResults.PartyContest"), ...contestFields }),
  z.looseObject({ "@type": z.literal("ElectionResults.RetentionContest"), ...contestFields, CandidateId: Id }),
]);
export type Contest = z.infer<typeof Contest>;

export type OrderedContent =
  | { "@type": "ElectionResults.OrderedContest"; ContestId: string; OrderedContestSelectionIds?: string[] | undefined }
  | { "@type": "ElectionResults.OrderedHeader"; HeaderId: string; OrderedContent?: OrderedContent[] | undefined };

/** Ballot content in order; headers nest (NIST OrderedHeader holds its own OrderedContent). */
export const OrderedContent: z.ZodType<OrderedContent> = z.lazy(() =>
  z.discriminatedUnion("@type", [
    z.looseObject({
      "@type": z.literal("ElectionResults.OrderedContest"),
      ContestId: Id,
      OrderedContestSelectionIds: IdList.optional(),
    }),
    z.looseObject({
      "@type": z.literal("ElectionResults.OrderedHeader"),
      HeaderId: Id,
      OrderedContent: z.array(OrderedContent).optional(),
    }),
  ]),
);

export const BallotStyle = z.looseObject({
  "@type": z.literal("ElectionResults.BallotStyle"),
  GpUnitIds: IdList,
  ExternalIdentifier: z.array(ExternalIdentifier).optional(),
  OrderedContent: z.array(OrderedContent).optional(),
  PartyIds: IdList.optional(),
});
export type BallotStyle = z.infer<typeof BallotStyle>;

export const Election = z.looseObject({
  "@type": z.literal("ElectionResults.Election"),
  ElectionScopeId: Id,
  /** NIST ElectionType: general, partisan-primary-closed, partisan-primary-open, primary, runoff, special, other. */
  Type: z.string().optional(),
  Name: InternationalizedText,
  Candidate: z.array(Candidate).optional(),
  Contest: z.array(Contest).optional(),
  BallotStyle: z.array(BallotStyle).optional(),
});
export type Election = z.infer<typeof Election>;

export const ElectionReport = z.looseObject({
  "@type": z.literal("ElectionResults.ElectionReport"),
  Election: z.array(Election).optional(),
  GpUnit: z.array(GpUnit).optional(),
  Party: z.array(Party).optional(),
  Header: z.array(Header).optional(),
});
export type ElectionReport = z.infer<typeof ElectionReport>;

/**
 * The text people read in the first language given (NIST requires at least one); compile.ts keeps
 * every language beside it (LocalizedText in model.ts).
 */
export function textOf(text: InternationalizedText | undefined): string | undefined {
  const first = text?.Text[0]?.Content.trim();
  return first === undefined || first === "" ? undefined : first;
}
