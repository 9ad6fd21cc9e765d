/**
 * The video filters' segmentation model, served by the server from the client build at
 * `/js/segmentation/<version>/<file>` (docs/client.md): the files MediaPipe's loader asks for,
 * with the SDK's CORS headers and a wasm type browsers compile while streaming; nothing else
 * under the build can be named.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../rest/harness.js';

const clientDist = dirname(createRequire(import.meta.url).resolve('@tokhost/client/tokhost.js'));
const segDir = join(clientDist, 'segmentation');
const version = existsSync(segDir) ? readdirSync(segDir)[0] : undefined;

describe.skipIf(!version)('/js/segmentation/ (the video filters\' model, from the client build)', () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('serves the model, the wasm and the loader byte for byte, with CORS and their content types', async () => {
    const base = `${server.url}/js/segmentation/${version}/`;
    for (const [file, type] of [
      ['selfie_segmentation_landscape.tflite', 'application/octet-stream'],
      ['selfie_segmentation_solution_simd_wasm_bin.wasm', 'application/wasm'],
      ['selfie_segmentation.js', 'text/javascript; charset=utf-8'],
    ] as const) {
      const res = await fetch(base + file, { headers: { Origin: 'http://app.example' } });
      expect(res.status, file).toBe(200);
      expect(res.headers.get('content-type'), file).toBe(type);
      expect(res.headers.get('access-control-allow-origin'), file).toBe('*');
      expect(res.headers.get('cache-control'), file).toBe('no-cache');
      expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(join(segDir, version!, file))), file).toBe(true);
    }
    const head = await fetch(base + 'selfie_segmentation.binarypb', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBe(readFileSync(join(segDir, version!, 'selfie_segmentation.binarypb')).length);
  });

  it('answers 404 for a file or version it does not have, and names no other file of the build', async () => {
    const missing = await fetch(`${server.url}/js/segmentation/${version}/no_such_model.tflite`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toContain('no segmentation file');
    expect((await fetch(`${server.url}/js/segmentation/0.0.1/selfie_segmentation.js`)).status).toBe(404);
    // Not a segmentation path at all: the request falls through to the server's other routes.
    for (const path of [`/js/segmentation/${version}/..%2F..%2Ftokhost.js`, `/js/segmentation/${version}/tokhost.js.map`, '/js/segmentation/x/selfie_segmentation.js']) {
      const res = await fetch(server.url + path);
      expect(res.status, path).toBe(404);
      expect(await res.text(), path).not.toContain('function');
    }
    const post = await fetch(`${server.url}/js/segmentation/${version}/selfie_segmentation.js`, { method: 'POST' });
    expect(post.status).toBe(405);
  });
});
