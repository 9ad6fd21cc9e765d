#!/usr/bin/env node
// Renders pictures of the layouts for docs/archiving.md with the layout engine itself (the built
// dist: run `npm run build` first). Each picture is a sheet of panels, one per stream count
// (1–6); each stream is a coloured box with its arrival number, and its video (4:3 camera, 16:9
// screen share) as a lighter inner box, letterboxed (object-fit: contain) or filling (cover). Usage:
//   node packages/server/scripts/render-layouts.mjs [outDir=docs/img/layouts]
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { computeLayout } from '../dist/compose/layout/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const outDir = resolve(process.argv[2] ?? join(here, '../../../docs/img/layouts'));

const PALETTE = [
  [230, 25, 75], [60, 180, 75], [0, 130, 200], [245, 130, 48], [145, 30, 180], [70, 200, 200],
  [240, 50, 230], [150, 160, 20], [0, 128, 128], [170, 110, 40], [128, 0, 0], [0, 0, 128],
  [128, 128, 0], [100, 100, 100], [210, 120, 160], [60, 60, 200],
];

// 5×7 digits, one string of 35 bits per glyph, row by row.
const DIGITS = [
  '01110100011001110101110011000101110', '00100011000010000100001000010001110', '01110100010000100110010001000011111',
  '11111000100010000010000011000101110', '00010001100101010010111110001000010', '11111100001111000001000011000101110',
  '00110010001000011110100011000101110', '11111000010001000100010000100001000', '01110100011000101110100011000101110',
  '01110100011000101111000010001001100',
];

class Canvas {
  constructor(width, height, rgb) {
    this.png = new PNG({ width, height });
    this.fill(0, 0, width, height, rgb);
  }
  fill(x0, y0, w, h, [r, g, b]) {
    const { width, height, data } = this.png;
    for (let y = Math.max(0, y0); y < Math.min(height, y0 + h); y++) {
      for (let x = Math.max(0, x0); x < Math.min(width, x0 + w); x++) {
        const i = (y * width + x) * 4;
        data[i] = r;
        data[i + 1] = g;
        data[i + 2] = b;
        data[i + 3] = 255;
      }
    }
  }
  frame(x, y, w, h, rgb, t = 1) {
    this.fill(x, y, w, t, rgb);
    this.fill(x, y + h - t, w, t, rgb);
    this.fill(x, y, t, h, rgb);
    this.fill(x + w - t, y, t, h, rgb);
  }
  text(str, cx, cy, scale, rgb) {
    const w = str.length * 6 * scale - scale;
    let x = Math.round(cx - w / 2);
    const y = Math.round(cy - (7 * scale) / 2);
    for (const ch of str) {
      const glyph = DIGITS[Number(ch)];
      for (let i = 0; i < 35; i++) if (glyph[i] === '1') this.fill(x + (i % 5) * scale, y + Math.floor(i / 5) * scale, scale, scale, rgb);
      x += 6 * scale;
    }
  }
}

const mix = (c, t) => c.map((v) => Math.round(v + (255 - v) * t));

/** Draws one layout's boxes into a panel at (ox, oy), scaled from the layout canvas. */
function panel(img, boxes, streams, canvas, ox, oy, scale) {
  img.fill(ox, oy, Math.round(canvas.width * scale), Math.round(canvas.height * scale), [24, 24, 28]);
  for (const b of boxes) {
    const n = Number(b.streamId.slice(1));
    const colour = PALETTE[(n - 1) % PALETTE.length];
    const x = ox + Math.round(b.x * scale);
    const y = oy + Math.round(b.y * scale);
    const w = Math.round((b.x + b.width) * scale) - Math.round(b.x * scale);
    const h = Math.round((b.y + b.height) * scale) - Math.round(b.y * scale);
    img.fill(x, y, w, h, colour);
    // the video (4:3 camera, 16:9 screen share) letterboxed in its box, or filling it with cover
    const aspect = streams.find((s) => s.streamId === b.streamId)?.videoType === 'screen' ? 16 / 9 : 4 / 3;
    const vw = b.fit === 'cover' ? w : Math.min(w, h * aspect);
    const vh = b.fit === 'cover' ? h : Math.min(h, w / aspect);
    img.fill(Math.round(x + (w - vw) / 2), Math.round(y + (h - vh) / 2), Math.round(vw), Math.round(vh), mix(colour, 0.35));
    img.frame(x, y, w, h, [255, 255, 255]);
    img.text(String(n), x + w / 2, y + h / 2, Math.max(1, Math.min(6, Math.floor(Math.min(w, h) / 14))), [255, 255, 255]);
  }
  img.frame(ox - 1, oy - 1, Math.round(canvas.width * scale) + 2, Math.round(canvas.height * scale) + 2, [120, 120, 120]);
}

const streamsFor = (n, extra = () => ({})) =>
  Array.from({ length: n }, (_, i) => ({ streamId: `s${i + 1}`, connectionId: `c${i + 1}`, videoType: 'camera', layoutClassList: [], order: i, ...extra(i) }));

/** A sheet: 3 × 2 panels for 1–6 streams. */
function sheet(name, spec, canvas, streams = streamsFor) {
  const scale = canvas.width >= canvas.height ? 320 / canvas.width : 240 / canvas.height;
  const pw = Math.round(canvas.width * scale);
  const ph = Math.round(canvas.height * scale);
  const gap = 12;
  const img = new Canvas(3 * pw + 4 * gap, 2 * ph + 3 * gap, [255, 255, 255]);
  for (let n = 1; n <= 6; n++) {
    const col = (n - 1) % 3;
    const row = Math.floor((n - 1) / 3);
    const list = streams(n);
    panel(img, computeLayout(spec, list, canvas), list, canvas, gap + col * (pw + gap), gap + row * (ph + gap), scale);
  }
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `${name}.png`);
  writeFileSync(file, PNG.sync.write(img.png));
  console.log(`${file} (${img.png.width}x${img.png.height})`);
}

const SD = { width: 640, height: 480 };
const PORTRAIT = { width: 480, height: 640 };
sheet('bestFit', { type: 'bestFit' }, SD);
sheet('pip', { type: 'pip' }, SD);
sheet('verticalPresentation', { type: 'verticalPresentation' }, SD);
sheet('horizontalPresentation', { type: 'horizontalPresentation' }, SD);
sheet('bestFit-portrait', { type: 'bestFit' }, PORTRAIT);
// Stream 3 (or the last when fewer) is a screen share: with screenshareType it takes the focus place.
sheet('bestFit-screenshare-verticalPresentation', { type: 'bestFit', screenshareType: 'verticalPresentation' }, SD, (n) =>
  streamsFor(n, (i) => (i === Math.min(2, n - 1) ? { videoType: 'screen', connectionId: 'c1' } : {})),
);
// A custom stylesheet: the first stream on the left half (cropped to fill it), the others in a
// 2-wide grid of left floats beside it.
sheet(
  'custom-example',
  {
    type: 'custom',
    stylesheet: 'stream { float: left; width: 25%; height: 25%; } stream:first-child { width: 50%; height: 100%; object-fit: cover; }',
  },
  SD,
);
