// Preloaded (`node -r`) by scripts/web-samples.mjs into a sample that brings its own Node server
// (End-To-End-Media-Encryption): its `opentok` client is this repository's official `opentok`
// SDK pointed at the Tokhost at TOKHOST_URL, and its HTTP server listens on 127.0.0.1 on a free
// port (printed as TOKHOST_SAMPLE_PORT=…) instead of its fixed port on every interface.
'use strict';
const Module = require('node:module');
const http = require('node:http');

const OpenTok = require(process.env.TOKHOST_OPENTOK);
function TokhostOpenTok(apiKey, apiSecret, env) {
  return new OpenTok(apiKey, apiSecret, env ?? process.env.TOKHOST_URL);
}
const load = Module._load;
Module._load = function loadWithTokhost(request, ...rest) {
  return request === 'opentok' ? TokhostOpenTok : load.call(this, request, ...rest);
};
const listen = http.Server.prototype.listen;
http.Server.prototype.listen = function listenOnLoopback(...args) {
  const cb = args.find((a) => typeof a === 'function');
  return listen.call(this, 0, '127.0.0.1', () => {
    console.log(`TOKHOST_SAMPLE_PORT=${this.address().port}`);
    cb?.();
  });
};
