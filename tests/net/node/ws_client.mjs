// npm's ws as a client of ember's WebSocket listener (driven by tests/net/test_websocket_node.cpp).
// usage: node ws_client.mjs PORT   (the server allows Origin https://game.example.com)
// Exits 0 when every step went as PROTOCOL.md says, 1 with the reason otherwise.
import WebSocket from 'ws';

const port = Number(process.argv[2]);
if (!port) {
  console.error('usage: node ws_client.mjs PORT');
  process.exit(2);
}
const url = `ws://127.0.0.1:${port}/game`;
const fail = (why) => {
  console.error(`FAIL: ${why}`);
  process.exit(1);
};
setTimeout(() => fail('timed out'), 15000).unref();

// A native frame (PROTOCOL.md section 1): 16-byte big-endian header, then the body.
function frame(kind, flags, command, seq, body) {
  const h = Buffer.alloc(16);
  h.writeUInt32BE(body.length, 0);
  h[4] = kind;
  h[5] = flags;
  h.writeUInt16BE(command, 6);
  h.writeUInt32BE(seq, 8);
  return Buffer.concat([h, body]);
}
function frames(message) {
  const out = [];
  for (let at = 0; at < message.length;) {
    const length = message.readUInt32BE(at);
    out.push({ kind: message[at + 4], flags: message[at + 5], command: message.readUInt16BE(at + 6),
               seq: message.readUInt32BE(at + 8), body: message.subarray(at + 16, at + 16 + length) });
    at += 16 + length;
  }
  return out;
}
const HANDSHAKE = 7, REQUEST = 1, RESPONSE = 2, JSON_FLAG = 1, ECHO = 101;

// Resolves with the first event `name` of `ws` (or of `names`), rejecting on error.
const next = (ws, name) => new Promise((resolve, reject) => {
  ws.once(name, (...args) => resolve(args));
  ws.once('error', reject);
});

async function refusedFromAnotherSite() {
  const ws = new WebSocket(url, { origin: 'https://evil.example' });
  const [, res] = await next(ws, 'unexpected-response');
  if (res.statusCode !== 403) fail(`another site's origin got ${res.statusCode}, not 403`);
  res.destroy();
  console.log('ok: an origin not in the allow-list is refused with 403');
}

async function session() {
  const ws = new WebSocket(url, { origin: 'https://game.example.com' });
  const messages = [];
  let wake = null;
  ws.on('message', (data, isBinary) => {
    if (!isBinary) fail('the server sent a text message');
    messages.push(...frames(data));
    if (wake) wake();
  });
  const nextFrame = async () => {
    while (messages.length === 0) await new Promise((r) => { wake = r; });
    return messages.shift();
  };
  await next(ws, 'open');

  // the native handshake: version 1, JSON pushes
  ws.send(frame(HANDSHAKE, 0, 0, 0, Buffer.from([0, 1, 1, 0])));
  const hello = await nextFrame();
  if (hello.kind !== HANDSHAKE || hello.body.length !== 60) fail(`no server hello: ${JSON.stringify(hello)}`);
  console.log('ok: native handshake in binary messages');

  // a request in three fragments, a ping between them
  const req = frame(REQUEST, JSON_FLAG, ECHO, 1, Buffer.from(JSON.stringify({ n: 7, text: 'from node' })));
  const pong = next(ws, 'pong');
  ws.send(req.subarray(0, 10), { binary: true, fin: false });
  ws.ping('are you there');
  ws.send(req.subarray(10, 20), { binary: true, fin: false });
  ws.send(req.subarray(20), { binary: true, fin: true });
  const [pongData] = await pong;
  if (pongData.toString() !== 'are you there') fail(`pong carried '${pongData}'`);
  console.log('ok: a ping between fragments is answered with its pong');
  const reply = await nextFrame();
  if (reply.kind !== RESPONSE || reply.seq !== 1) fail(`unexpected reply ${JSON.stringify(reply)}`);
  const body = JSON.parse(reply.body.toString());
  if (body.n !== 7 || body.text !== 'from node') fail(`echo replied ${reply.body}`);
  console.log('ok: a fragmented request gets its reply');

  // many requests at once: replies correlated by seq
  for (let i = 2; i <= 50; ++i)
    ws.send(frame(REQUEST, JSON_FLAG, ECHO, i, Buffer.from(JSON.stringify({ n: i, text: `#${i}` }))));
  const seen = new Set();
  while (seen.size < 49) {
    const r = await nextFrame();
    const b = JSON.parse(r.body.toString());
    if (r.kind !== RESPONSE || b.n !== r.seq || b.text !== `#${r.seq}`) fail(`bad reply ${JSON.stringify(r)}`);
    seen.add(r.seq);
  }
  console.log('ok: 49 requests in flight get their replies');

  // the close handshake, started by the client
  const closed = next(ws, 'close');
  ws.close(1000, 'done');
  const [code] = await closed;
  if (code !== 1000) fail(`close answered with ${code}`);
  console.log('ok: the close handshake ends with 1000');
}

async function textIsRefused() {
  const ws = new WebSocket(url);
  await next(ws, 'open');
  const closed = next(ws, 'close');
  ws.send('a text message');
  const [code, reason] = await closed;
  if (code !== 1003) fail(`a text message closed with ${code} (${reason})`);
  console.log(`ok: a text message closes the session with 1003 (${reason})`);
}

try {
  await refusedFromAnotherSite();
  await session();
  await textIsRefused();
  console.log('all ok');
  process.exit(0);
} catch (e) {
  fail(e.stack || String(e));
}
