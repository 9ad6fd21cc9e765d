/** The demo page: joins the room named in `?room=` (default `demo`), publishes, subscribes to everyone. */
export const DEMO_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tokhost demo</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 1rem; background: #f4f4f6; }
  #videos { display: flex; flex-wrap: wrap; gap: 12px; }
  .tile { width: 320px; height: 240px; background: #222; border-radius: 6px; overflow: hidden; position: relative; }
  .tile video { width: 100%; height: 100%; object-fit: cover; }
  #log { font: 12px monospace; white-space: pre-wrap; max-height: 12rem; overflow: auto; background: #fff; padding: .5rem; }
  button { margin-right: .5rem; }
</style>
</head>
<body>
<h1>Tokhost demo</h1>
<p>Open this page in a second tab (same room) to video-chat. Room: <b id="room"></b> · you are <span id="me">connecting…</span></p>
<p>
  <button id="mic">Mute mic</button><button id="cam">Stop camera</button>
  <input id="text" placeholder="say something"><button id="send">Send signal</button>
</p>
<div id="videos"><div class="tile" id="publisher"></div></div>
<h3>Events</h3>
<div id="log"></div>
<script src="/js/tokhost.js"></script>
<script>
(async () => {
  const log = (...a) => { const el = document.getElementById('log'); el.textContent = new Date().toISOString().slice(11, 23) + ' ' + a.join(' ') + '\\n' + el.textContent; };
  const room = new URLSearchParams(location.search).get('room') || 'demo';
  document.getElementById('room').textContent = room;
  const creds = await (await fetch('/demo/join?room=' + encodeURIComponent(room))).json();
  const session = OT.initSession(creds.apiKey, creds.sessionId);
  window.demoSession = session;
  session.on({
    sessionConnected: () => { document.getElementById('me').textContent = session.connection.connectionId; log('connected'); },
    sessionReconnecting: () => log('reconnecting…'),
    sessionReconnected: () => log('reconnected'),
    sessionDisconnected: (e) => log('disconnected:', e.reason),
    connectionCreated: (e) => log('connection created', e.connection.connectionId),
    connectionDestroyed: (e) => log('connection destroyed', e.connection.connectionId, e.reason),
    streamCreated: (e) => {
      log('stream created', e.stream.name);
      const tile = document.createElement('div');
      tile.className = 'tile';
      document.getElementById('videos').appendChild(tile);
      session.subscribe(e.stream, tile, { insertMode: 'append', width: '100%', height: '100%' }, (err) => err && log('subscribe error', err.message));
    },
    streamDestroyed: (e) => log('stream destroyed', e.stream.name, e.reason),
    signal: (e) => log('signal from', e.from ? e.from.connectionId : 'server', ':', e.data),
  });
  const publisher = OT.initPublisher('publisher', { name: 'Guest', insertMode: 'append', width: '100%', height: '100%' }, (err) => err && log('publisher error', err.message));
  window.demoPublisher = publisher;
  session.connect(creds.token, (err) => {
    if (err) return log('connect error', err.message);
    session.publish(publisher, (e) => e && log('publish error', e.message));
  });
  let mic = true, cam = true;
  document.getElementById('mic').onclick = (ev) => { mic = !mic; publisher.publishAudio(mic); ev.target.textContent = mic ? 'Mute mic' : 'Unmute mic'; };
  document.getElementById('cam').onclick = (ev) => { cam = !cam; publisher.publishVideo(cam); ev.target.textContent = cam ? 'Stop camera' : 'Start camera'; };
  document.getElementById('send').onclick = () => session.signal({ type: 'chat', data: document.getElementById('text').value }, (err) => err && log('signal error', err.message));
})().catch((e) => { document.getElementById('log').textContent = 'error: ' + e.message; });
</script>
</body>
</html>
`;
