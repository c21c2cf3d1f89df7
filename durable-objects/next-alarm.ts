/**
 * An object's next alarm, remembered in memory so that arming it again costs no storage call.
 * Arming only ever brings the alarm earlier: a wish for later never puts off one already due
 * sooner (whoever set that one still needs it). The object loads it in its constructor's
 * blockConcurrencyWhile and calls `fired()` first thing in alarm().
 */
export class NextAlarm {
  private readonly storage: DurableObjectStorage;
  /** When the alarm is set for, as far as this object set it; null when none is pending. */
  private at: number | null = null;

  constructor(storage: DurableObjectStorage) {
    this.storage = storage;
  }

  async load(): Promise<void> {
    this.at = await this.storage.getAlarm();
  }

  /** Sets the alarm for `at` unless one is already due at or before it. */
  async arm(at: number): Promise<void> {
    if (this.at !== null && this.at <= at) return;
    this.at = at;
    await this.storage.setAlarm(at);
  }

  fired(): void {
    this.at = null;
  }
}
