// The server build of `qrcode` has the same API as the package's main entry.
declare module "qrcode/lib/server.js" {
  import QRCode from "qrcode";
  export default QRCode;
}
