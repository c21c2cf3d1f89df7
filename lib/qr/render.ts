/**
 * QR images of payload texts with `qrcode`, kept out of the codec so that reading payloads needs no
 * image code. The package's server build is imported on purpose: its PNG writer (pngjs) runs in
 * Node and, under nodejs_compat, in the Worker; the browser build has none.
 *
 * Level M (15% of the code words recover damage) is the level every size in docs/QR-PAYLOADS.md
 * is measured at: it survives a crease, a smudge or a pen stroke across a printed sheet, and keeps
 * the largest demo payloads at or below version 15 (77 x 77 modules), which phones and sheet-fed
 * document scanners read at 0.5 mm a module (about 4 cm with the quiet zone).
 */
import QRCode from "qrcode/lib/server.js";

export const QR_ERROR_CORRECTION = "M" as const;
/** Modules of quiet zone around the code: the standard asks for 4. */
export const QR_MARGIN = 4;

const OPTIONS = { errorCorrectionLevel: QR_ERROR_CORRECTION, margin: QR_MARGIN } as const;

export interface QrSymbolInfo {
  /** QR version, 1 to 40: the code is 17 + 4 * version modules wide. */
  readonly version: number;
  readonly errorCorrectionLevel: "L" | "M" | "Q" | "H";
  readonly modules: number;
  /** The segment modes `qrcode` chose (base45 text comes out alphanumeric, digit runs numeric). */
  readonly modes: readonly string[];
}

const LEVELS = ["M", "L", "H", "Q"] as const;

/** The symbol `qrcode` makes for this text at level M: what every size promise is checked against. */
export function qrSymbolInfo(text: string): QrSymbolInfo {
  const symbol = QRCode.create(text, OPTIONS);
  // qrcode's level bits are the standard's: M = 0, L = 1, H = 2, Q = 3.
  const level = LEVELS[symbol.errorCorrectionLevel.bit];
  if (!level) throw new Error(`unexpected error correction bits ${symbol.errorCorrectionLevel.bit}`);
  return {
    version: symbol.version,
    errorCorrectionLevel: level,
    modules: symbol.modules.size,
    modes: [...new Set(symbol.segments.map((s) => s.mode.id))],
  };
}

export async function qrSvg(text: string): Promise<string> {
  return QRCode.toString(text, { ...OPTIONS, type: "svg" });
}

/** PNG bytes; `scale` pixels a module (6 px at 300 dpi is 0.5 mm). */
export async function qrPng(text: string, scale = 6): Promise<Uint8Array<ArrayBuffer>> {
  const buffer = await QRCode.toBuffer(text, { ...OPTIONS, type: "png", scale });
  const out = new Uint8Array(new ArrayBuffer(buffer.byteLength));
  out.set(buffer);
  return out;
}
