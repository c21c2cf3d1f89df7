/**
 * station/qr-image.ts: a ballot's QR code read from a PNG or a JPEG file's bytes (pure JavaScript,
 * as on the station's laptop), and a plain refusal for anything else.
 */
import jpeg from "jpeg-js";
import { PNG } from "pngjs";
import { expect, it } from "vitest";
import { qrPng } from "../../lib/qr/render.ts";
import { qrTextFromImage } from "../../station/qr-image.ts";

const text = "ME1:6BFOXN*TS0BI$ZDFRH%";

it("reads the code from a PNG and from a JPEG photo of it", async () => {
  const png = await qrPng(text);
  expect(qrTextFromImage(png)).toEqual({ ok: true, value: text });

  const decoded = PNG.sync.read(Buffer.from(png));
  const photo = jpeg.encode({ data: decoded.data, width: decoded.width, height: decoded.height }, 85);
  expect(qrTextFromImage(new Uint8Array(photo.data))).toEqual({ ok: true, value: text });
});

it("refuses what is not an image, a broken image and an image without a code", () => {
  expect(qrTextFromImage(new TextEncoder().encode("not an image"))).toMatchObject({
    ok: false,
    error: { code: "image_unsupported" },
  });
  expect(qrTextFromImage(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0, 0]))).toMatchObject({
    ok: false,
    error: { code: "image_unreadable" },
  });
  const blank = new PNG({ width: 64, height: 64 });
  blank.data.fill(255);
  expect(qrTextFromImage(new Uint8Array(PNG.sync.write(blank)))).toMatchObject({
    ok: false,
    error: { code: "qr_not_found" },
  });
});
