import { afterEach, describe, expect, it, vi } from "vitest";
import { emitEvent, EVENTS, type OperationalEventName } from "../../lib/events.ts";

describe("the registry of operational and security events", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it.each(Object.entries(EVENTS))("%s has a level, a kind and a sentence for operators", (name, spec) => {
    expect(name).toMatch(/^[a-z][a-z0-9_-]*$/);
    expect(["info", "warn", "error"]).toContain(spec.level);
    expect(["operational", "security"]).toContain(spec.kind);
    expect(spec.sentence.length).toBeGreaterThan(40);
    expect(spec.sentence.endsWith(".")).toBe(true);
  });

  it("writes an operational event as one JSON line at its registered level", () => {
    const lines: Record<string, string[]> = { log: [], warn: [], error: [] };
    vi.spyOn(console, "log").mockImplementation((line: string) => void lines["log"]?.push(line));
    vi.spyOn(console, "warn").mockImplementation((line: string) => void lines["warn"]?.push(line));
    vi.spyOn(console, "error").mockImplementation((line: string) => void lines["error"]?.push(line));
    const byLevel = { info: "log", warn: "warn", error: "error" } as const;
    const operational = Object.entries(EVENTS).filter(([, spec]) => spec.kind === "operational");
    for (const [name, spec] of operational) {
      emitEvent(name as OperationalEventName, { electionId: "e-1" });
      expect(JSON.parse(lines[byLevel[spec.level]]?.at(-1) ?? "null")).toEqual({
        level: spec.level,
        event: name,
        electionId: "e-1",
      });
    }
    expect(lines["log"]!.length + lines["warn"]!.length + lines["error"]!.length).toBe(operational.length);
  });
});
