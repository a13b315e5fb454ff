#!/usr/bin/env node
// Renders the app icon (a rounded square with "KV") and writes every icon file the installers need, using only
// Node (zlib for PNG's deflate; no native modules, no image libraries):
//   resources/icons/NxN.png   16..1024 px   Linux (electron-builder's icon set: `linux.icon: resources/icons`)
//   resources/icon.ico        Windows: 16, 24, 32, 48, 64, 128 as 32-bit BMP entries, 256 as a PNG entry
//   resources/icon.icns       macOS: PNG entries icp4 icp5 ic07..ic14 (16 px to 512@2x = 1024 px)
// Usage: node scripts/make-icons.mjs [--out DIR]   (default DIR: resources/ beside this script's repo)
// The generated files are committed; rerun after changing the drawing.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';

export const PNG_SIZES = [16, 32, 48, 64, 128, 256, 512, 1024];
export const ICO_SIZES = [16, 24, 32, 48, 64, 128, 256];
// ICNS element types holding PNG data, and the pixel size of each.
export const ICNS_TYPES = [
  ['icp4', 16],
  ['icp5', 32],
  ['ic11', 32], // 16@2x
  ['ic12', 64], // 32@2x
  ['ic07', 128],
  ['ic13', 256], // 128@2x
  ['ic08', 256],
  ['ic14', 512], // 256@2x
  ['ic09', 512],
  ['ic10', 1024], // 512@2x
];

// ---- drawing: signed distances in a unit square, 4x4 supersampling for pixels near an edge ----

const MARGIN = 0.08; // transparent border (macOS icons sit inside the canvas with some air around them)
const RADIUS = 0.2; // corner radius of the square, in canvas units
const STROKE = 0.075; // letter stroke width
const TOP = [0.33, 0.36, 0.86]; // background gradient, top (indigo)
const BOTTOM = [0.56, 0.27, 0.78]; // bottom (violet)

// "KV" as round-capped strokes (x0, y0, x1, y1), y down.
const STROKES = [
  [0.255, 0.3, 0.255, 0.7], // K stem
  [0.275, 0.53, 0.455, 0.3], // K upper arm
  [0.335, 0.455, 0.465, 0.7], // K lower leg
  [0.545, 0.3, 0.65, 0.7], // V left
  [0.65, 0.7, 0.755, 0.3], // V right
];

function roundedSquareDistance(x, y) {
  const half = 0.5 - MARGIN;
  const qx = Math.abs(x - 0.5) - (half - RADIUS);
  const qy = Math.abs(y - 0.5) - (half - RADIUS);
  const outside = Math.hypot(Math.max(qx, 0), Math.max(qy, 0));
  return outside + Math.min(Math.max(qx, qy), 0) - RADIUS;
}

function segmentDistance(x, y, [x0, y0, x1, y1]) {
  const dx = x1 - x0;
  const dy = y1 - y0;
  const t = Math.max(0, Math.min(1, ((x - x0) * dx + (y - y0) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(x - (x0 + t * dx), y - (y0 + t * dy));
}

function lettersDistance(x, y) {
  let d = Infinity;
  for (const s of STROKES) d = Math.min(d, segmentDistance(x, y, s));
  return d - STROKE / 2;
}

/** RGBA pixels (straight alpha), row-major, top row first. */
export function renderIcon(size) {
  const out = new Uint8Array(size * size * 4);
  const SS = 4;
  const edge = 1.5 / size; // a pixel whose centre is farther than this from every edge is uniformly inside/outside
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      const cx = (px + 0.5) / size;
      const cy = (py + 0.5) / size;
      const ss = Math.abs(roundedSquareDistance(cx, cy)) > edge && Math.abs(lettersDistance(cx, cy)) > edge ? 1 : SS;
      let r = 0;
      let g = 0;
      let b = 0;
      let a = 0;
      for (let sy = 0; sy < ss; sy++) {
        for (let sx = 0; sx < ss; sx++) {
          const x = (px + (sx + 0.5) / ss) / size;
          const y = (py + (sy + 0.5) / ss) / size;
          if (roundedSquareDistance(x, y) > 0) continue;
          const inLetter = lettersDistance(x, y) <= 0;
          const t = Math.min(1, Math.max(0, (y - MARGIN) / (1 - 2 * MARGIN)));
          r += inLetter ? 1 : TOP[0] + (BOTTOM[0] - TOP[0]) * t;
          g += inLetter ? 1 : TOP[1] + (BOTTOM[1] - TOP[1]) * t;
          b += inLetter ? 1 : TOP[2] + (BOTTOM[2] - TOP[2]) * t;
          a += 1;
        }
      }
      const i = (py * size + px) * 4;
      if (a > 0) {
        out[i] = Math.round((r / a) * 255);
        out[i + 1] = Math.round((g / a) * 255);
        out[i + 2] = Math.round((b / a) * 255);
      }
      out[i + 3] = Math.round((a / (ss * ss)) * 255);
    }
  }
  return out;
}

// ---- PNG ----

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes) {
  let c = 0xffffffff;
  for (const byte of bytes) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type, data) {
  const chunk = Buffer.alloc(12 + data.length);
  chunk.writeUInt32BE(data.length, 0);
  chunk.write(type, 4, 'latin1');
  Buffer.from(data).copy(chunk, 8);
  chunk.writeUInt32BE(crc32(chunk.subarray(4, 8 + data.length)), 8 + data.length);
  return chunk;
}

/** An RGBA8 PNG (colour type 6), every scanline with filter 0. */
export function encodePng(rgba, width, height) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  ihdr[10] = 0; // deflate
  ihdr[11] = 0; // adaptive filtering
  ihdr[12] = 0; // no interlace
  const stride = width * 4;
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (stride + 1)] = 0;
    Buffer.from(rgba.buffer, rgba.byteOffset + y * stride, stride).copy(raw, y * (stride + 1) + 1);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(raw, { level: 9 })),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

// ---- ICO ----

/** A 32-bit BGRA DIB as an ICO entry: BITMAPINFOHEADER, bottom-up pixels, then the 1-bit AND mask. */
function icoBitmap(rgba, size) {
  const maskStride = Math.ceil(size / 32) * 4;
  const header = Buffer.alloc(40);
  header.writeUInt32LE(40, 0);
  header.writeInt32LE(size, 4);
  header.writeInt32LE(size * 2, 8); // XOR bitmap + AND mask
  header.writeUInt16LE(1, 12);
  header.writeUInt16LE(32, 14);
  header.writeUInt32LE(0, 16); // BI_RGB
  header.writeUInt32LE(size * size * 4 + maskStride * size, 20);
  const pixels = Buffer.alloc(size * size * 4);
  const mask = Buffer.alloc(maskStride * size);
  for (let y = 0; y < size; y++) {
    const row = size - 1 - y; // bottom-up
    for (let x = 0; x < size; x++) {
      const s = (y * size + x) * 4;
      const d = (row * size + x) * 4;
      pixels[d] = rgba[s + 2];
      pixels[d + 1] = rgba[s + 1];
      pixels[d + 2] = rgba[s];
      pixels[d + 3] = rgba[s + 3];
      if (rgba[s + 3] === 0) mask[row * maskStride + (x >> 3)] |= 0x80 >> (x & 7);
    }
  }
  return Buffer.concat([header, pixels, mask]);
}

/**
 * An ICO file. Microsoft's guidance: PNG compression for the 256 px image, uncompressed bitmaps below it
 * (every Windows version and resource tool reads those).
 */
export function encodeIco(images) {
  const header = Buffer.alloc(6);
  header.writeUInt16LE(0, 0);
  header.writeUInt16LE(1, 2); // icon
  header.writeUInt16LE(images.length, 4);
  const entries = [];
  const datas = [];
  let offset = 6 + 16 * images.length;
  for (const { size, rgba } of images) {
    const data = size >= 256 ? encodePng(rgba, size, size) : icoBitmap(rgba, size);
    const e = Buffer.alloc(16);
    e[0] = size >= 256 ? 0 : size;
    e[1] = size >= 256 ? 0 : size;
    e[2] = 0; // no palette
    e[3] = 0;
    e.writeUInt16LE(1, 4); // planes
    e.writeUInt16LE(32, 6); // bits per pixel
    e.writeUInt32LE(data.length, 8);
    e.writeUInt32LE(offset, 12);
    offset += data.length;
    entries.push(e);
    datas.push(data);
  }
  return Buffer.concat([header, ...entries, ...datas]);
}

// ---- ICNS ----

/** An ICNS file: 'icns', total length, then (type, length including its 8-byte header, PNG data) per element. */
export function encodeIcns(elements) {
  const parts = elements.map(({ type, png }) => {
    const h = Buffer.alloc(8);
    h.write(type, 0, 'latin1');
    h.writeUInt32BE(png.length + 8, 4);
    return Buffer.concat([h, png]);
  });
  const header = Buffer.alloc(8);
  header.write('icns', 0, 'latin1');
  header.writeUInt32BE(8 + parts.reduce((n, p) => n + p.length, 0), 4);
  return Buffer.concat([header, ...parts]);
}

// ---- main ----

export function makeIcons(outDir) {
  const sizes = [...new Set([...PNG_SIZES, ...ICO_SIZES, ...ICNS_TYPES.map(([, s]) => s)])].sort((a, b) => a - b);
  const rgba = new Map(sizes.map((s) => [s, renderIcon(s)]));
  const png = new Map(sizes.map((s) => [s, encodePng(rgba.get(s), s, s)]));
  const written = [];
  const write = (rel, data) => {
    const p = join(outDir, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, data);
    written.push(rel);
  };
  for (const s of PNG_SIZES) write(join('icons', `${s}x${s}.png`), png.get(s));
  write('icon.ico', encodeIco(ICO_SIZES.map((size) => ({ size, rgba: rgba.get(size) }))));
  write('icon.icns', encodeIcns(ICNS_TYPES.map(([type, s]) => ({ type, png: png.get(s) }))));
  return written;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--out');
  const outDir = i > 0 && process.argv[i + 1] ? resolve(process.argv[i + 1]) : resolve(dirname(fileURLToPath(import.meta.url)), '..', 'resources');
  for (const rel of makeIcons(outDir)) console.log(`make-icons: wrote ${join(outDir, rel)}`);
}
