/**
 * QR images of receipts with `qrcode`. The package's browser build (which bundlers pick for
 * Workers) has no PNG writer, so PNGs come from its server build, whose PNG renderer (pngjs over
 * node:zlib) runs under nodejs_compat.
 */
import QRCode from "qrcode/lib/server.js";

/** Medium error correction: survives a crease or a smudge on a printed receipt. */
const OPTIONS = { errorCorrectionLevel: "M", margin: 2 } as const;

export async function qrSvg(text: string): Promise<string> {
  return QRCode.toString(text, { ...OPTIONS, type: "svg" });
}

export async function qrPng(text: string): Promise<Uint8Array<ArrayBuffer>> {
  const buffer = await QRCode.toBuffer(text, { ...OPTIONS, type: "png", scale: 6 });
  const out = new Uint8Array(new ArrayBuffer(buffer.byteLength));
  out.set(buffer);
  return out;
}
