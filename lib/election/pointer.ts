/** JSON pointers (RFC 6901), the `path` of every Problem about a definition. */

export function escapeSegment(segment: string | number): string {
  return String(segment).replace(/~/g, "~0").replace(/\//g, "~1");
}

export function unescapeSegment(segment: string): string {
  return segment.replace(/~1/g, "/").replace(/~0/g, "~");
}

/** `pointer("/electionReport", "Election", 0)` is "/electionReport/Election/0". */
export function pointer(base: string, ...segments: readonly (string | number)[]): string {
  return segments.reduce<string>((path, s) => `${path}/${escapeSegment(s)}`, base);
}
