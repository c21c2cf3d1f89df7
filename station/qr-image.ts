/**
 * A ballot's QR code read from a photo or a scan saved as a file: PNG (pngjs) or JPEG (jpeg-js)
 * bytes, recognised by their signature, decoded to RGBA and handed to jsQR. Pure JavaScript, so
 * the laptop needs no native library. The command line's `scan --image` and the console's upload
 * use it.
 */
import jpeg from "jpeg-js";
import jsQR from "jsqr";
import { PNG } from "pngjs";
import { err, ok, type Result } from "../lib/result.ts";

export interface QrImageError {
  readonly code: "image_unsupported" | "image_unreadable" | "qr_not_found";
  readonly message: string;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47];
const JPEG_SIGNATURE = [0xff, 0xd8, 0xff];
/** Refuse images whose pixels would take more than this much memory to decode. */
const MAX_PIXELS = 40_000_000;

function startsWith(bytes: Uint8Array, signature: readonly number[]): boolean {
  return signature.every((b, i) => bytes[i] === b);
}

export function qrTextFromImage(bytes: Uint8Array): Result<string, QrImageError> {
  let rgba: { data: Uint8Array; width: number; height: number };
  try {
    if (startsWith(bytes, PNG_SIGNATURE)) {
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      rgba = { data: png.data, width: png.width, height: png.height };
    } else if (startsWith(bytes, JPEG_SIGNATURE)) {
      const image = jpeg.decode(bytes, {
        useTArray: true,
        formatAsRGBA: true,
        maxResolutionInMP: MAX_PIXELS / 1_000_000,
        maxMemoryUsageInMB: 512,
      });
      rgba = { data: image.data, width: image.width, height: image.height };
    } else {
      return err({ code: "image_unsupported", message: "The file is neither a PNG nor a JPEG image." });
    }
  } catch (error) {
    return err({
      code: "image_unreadable",
      message: `The image cannot be read: ${error instanceof Error ? error.message : String(error)}`,
    });
  }
  if (rgba.width * rgba.height > MAX_PIXELS) {
    return err({ code: "image_unreadable", message: "The image is too large." });
  }
  const code = jsQR(
    new Uint8ClampedArray(rgba.data.buffer, rgba.data.byteOffset, rgba.data.byteLength),
    rgba.width,
    rgba.height,
  );
  if (!code || code.data === "") {
    return err({
      code: "qr_not_found",
      message: "No QR code was found in the image. Take the picture again, closer and sharper.",
    });
  }
  return ok(code.data);
}
