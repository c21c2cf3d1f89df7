/**
 * The station console's script, bundled by scripts/build-assets.ts into dist/station/ (jsQR
 * included: nothing is loaded from elsewhere). It only enhances: every console page works the same
 * without it.
 *
 * - The connection banner (and, on the outbox page, the outbox table) refresh every two seconds
 *   from `/live`, so the official sees the station go offline or an entry go through without
 *   reloading. The server renders both, so the words stay in its catalogue.
 * - On the scan page: the camera (getUserMedia → canvas → jsQR) fills the QR field; a chosen photo
 *   is decoded here first when it can be (the server decodes it otherwise).
 */
import jsQR from "jsqr";

document.documentElement.classList.remove("no-js");
document.documentElement.classList.add("js");

const REFRESH_MS = 2000;

interface Live {
  readonly banner: string;
  readonly outbox?: string;
}

function isLive(value: unknown): value is Live {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v["banner"] === "string" && (v["outbox"] === undefined || typeof v["outbox"] === "string");
}

async function refresh(connection: HTMLElement, outbox: HTMLElement | null): Promise<void> {
  try {
    const res = await fetch(`/live${outbox ? "?outbox=1" : ""}`, { headers: { accept: "application/json" } });
    if (!res.ok) return;
    const live: unknown = await res.json();
    if (!isLive(live)) return;
    // Replaced only when changed, so a screen reader hears the banner once per change.
    if (connection.innerHTML !== live.banner) connection.innerHTML = live.banner;
    if (outbox && live.outbox !== undefined && outbox.innerHTML !== live.outbox) outbox.innerHTML = live.outbox;
  } catch {
    // The console itself stopped: the page stays as it was.
  }
}

const connection = document.getElementById("connection");
if (connection) {
  const outbox = document.querySelector<HTMLElement>("[data-live-outbox]");
  const tick = (): void => {
    void refresh(connection, outbox).finally(() => setTimeout(tick, REFRESH_MS));
  };
  setTimeout(tick, REFRESH_MS);
}

// ---- The scan page: QR from the camera or a photo ------------------------------------------------

function decodeFrom(source: CanvasImageSource, width: number, height: number): string | null {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  if (!context || width === 0 || height === 0) return null;
  context.drawImage(source, 0, 0, width, height);
  const image = context.getImageData(0, 0, width, height);
  return jsQR(image.data, width, height)?.data ?? null;
}

const qrField = document.querySelector<HTMLInputElement>("#qr");
const camera = document.querySelector<HTMLElement>("[data-camera]");
const texts = document.querySelector<HTMLElement>("#camera-texts");

if (qrField && camera && texts && typeof navigator.mediaDevices?.getUserMedia === "function") {
  const start = camera.querySelector<HTMLButtonElement>("[data-camera-start]");
  const stop = camera.querySelector<HTMLButtonElement>("[data-camera-stop]");
  const video = camera.querySelector<HTMLVideoElement>("[data-camera-view]");
  const status = camera.querySelector<HTMLElement>("[data-camera-status]");
  let stream: MediaStream | null = null;
  let timer: number | undefined;

  const say = (key: "looking" | "found" | "unavailable"): void => {
    if (status) status.textContent = texts.dataset[key] ?? "";
  };
  const halt = (): void => {
    if (timer !== undefined) window.clearInterval(timer);
    timer = undefined;
    stream?.getTracks().forEach((track) => track.stop());
    stream = null;
    if (video) video.hidden = true;
    if (start) start.hidden = false;
    if (stop) stop.hidden = true;
  };

  if (start && stop && video) {
    camera.hidden = false;
    start.addEventListener("click", () => {
      void navigator.mediaDevices
        .getUserMedia({ video: { facingMode: "environment" }, audio: false })
        .then(async (s) => {
          stream = s;
          video.srcObject = s;
          video.hidden = false;
          start.hidden = true;
          stop.hidden = false;
          say("looking");
          await video.play();
          timer = window.setInterval(() => {
            const text = decodeFrom(video, video.videoWidth, video.videoHeight);
            if (text) {
              qrField.value = text;
              halt();
              say("found");
              qrField.focus();
            }
          }, 250);
        })
        .catch(() => {
          halt();
          say("unavailable");
        });
    });
    stop.addEventListener("click", () => {
      halt();
      start.focus();
    });
  }
}

// A chosen photo: decoded here when the browser can; the field is left for the server otherwise.
const imageField = document.querySelector<HTMLInputElement>("#image");
if (qrField && imageField) {
  imageField.addEventListener("change", () => {
    const file = imageField.files?.[0];
    if (!file || qrField.value.trim() !== "") return;
    void createImageBitmap(file)
      .then((bitmap) => {
        const text = decodeFrom(bitmap, bitmap.width, bitmap.height);
        bitmap.close();
        if (text) qrField.value = text;
      })
      .catch(() => undefined);
  });
}
