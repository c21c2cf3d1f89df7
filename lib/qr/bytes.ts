/**
 * The byte-level building blocks of QR payloads: unsigned LEB128 varints, length-prefixed UTF-8
 * text and fixed-width fields.
 *
 * Every value has exactly one encoding: a varint with a redundant high zero byte ("overlong") or
 * worth more than Number.MAX_SAFE_INTEGER is refused, and text must be valid UTF-8 (decoded with
 * `fatal`). So two different byte strings never decode to the same payload.
 *
 * ByteReader reports a malformed payload by throwing FieldError, which only payload.ts catches,
 * at the one place where bytes turn into a Result; anything else thrown is a bug and propagates.
 * Reading never allocates more than the bytes present: declared counts are checked against the
 * remaining length by the reads themselves, never used to size an array up front.
 */
import type { QrErrorCode } from "./errors.ts";

/** 2^53 - 1 needs 8 groups of 7 bits. */
const MAX_VARINT_BYTES = 8;

export class FieldError extends Error {
  readonly code: QrErrorCode;
  readonly offset: number;
  readonly detail: string;
  constructor(code: QrErrorCode, offset: number, detail: string) {
    super(`${code} at byte ${offset}: ${detail}`);
    this.code = code;
    this.offset = offset;
    this.detail = detail;
  }
}

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export class ByteWriter {
  private readonly bytes: number[] = [];

  byte(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xff) throw new RangeError(`not a byte: ${value}`);
    this.bytes.push(value);
    return this;
  }

  raw(bytes: Uint8Array): this {
    for (const b of bytes) this.bytes.push(b);
    return this;
  }

  /** Callers check ranges first and report them as Results; a bad value here is a bug. */
  varint(value: number): this {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`not a varint value: ${value}`);
    let rest = value;
    while (rest >= 0x80) {
      this.bytes.push((rest % 0x80) | 0x80);
      rest = Math.floor(rest / 0x80);
    }
    this.bytes.push(rest);
    return this;
  }

  /** Varint length, then the UTF-8 bytes. */
  text(value: string): this {
    const encoded = utf8.encode(value);
    return this.varint(encoded.length).raw(encoded);
  }

  get length(): number {
    return this.bytes.length;
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

export class ByteReader {
  private offset = 0;
  private readonly bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  get position(): number {
    return this.offset;
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  byte(): number {
    if (this.offset >= this.bytes.length) throw new FieldError("truncated", this.offset, "expected one more byte");
    return this.bytes[this.offset++]!;
  }

  raw(length: number): Uint8Array {
    if (length > this.remaining) {
      throw new FieldError("truncated", this.offset, `expected ${length} bytes, ${this.remaining} left`);
    }
    const out = this.bytes.slice(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  varint(): number {
    const start = this.offset;
    let value = 0;
    let scale = 1;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      const b = this.byte();
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (b === 0 && i > 0) throw new FieldError("bad_varint", start, "overlong encoding");
        if (!Number.isSafeInteger(value)) throw new FieldError("bad_varint", start, "larger than 2^53 - 1");
        return value;
      }
      scale *= 0x80;
    }
    throw new FieldError("bad_varint", start, `longer than ${MAX_VARINT_BYTES} bytes`);
  }

  /** A varint that must be at most `max`; `what` names it in the error. */
  boundedVarint(max: number, what: string): number {
    const start = this.offset;
    const value = this.varint();
    if (value > max) throw new FieldError("invalid_field", start, `${what} is ${value}, at most ${max} allowed`);
    return value;
  }

  /** Length-prefixed UTF-8 of 1..maxBytes bytes. */
  text(maxBytes: number, what: string): string {
    const start = this.offset;
    const length = this.varint();
    if (length === 0 || length > maxBytes) {
      throw new FieldError("bad_string", start, `${what} is ${length} bytes, 1-${maxBytes} allowed`);
    }
    const bytes = this.raw(length);
    try {
      return strictUtf8.decode(bytes);
    } catch {
      throw new FieldError("bad_string", start, `${what} is not valid UTF-8`);
    }
  }
}
