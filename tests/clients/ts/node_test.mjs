// The generated TypeScript chat client (compiled by tsc) in Node 20, over npm's ws, against a
// real chat_server: sign in, join, talk, hear another client, typed errors, an Origin refused,
// and lost connections — the TCP socket under a client's WebSocket destroyed from here, several
// times, with calls in flight — survived with every chat line heard exactly once, in order.
// usage: node node_test.mjs CHAT_SERVER OUT_DIR    (run.py runs it)
import WebSocket from 'ws';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { fail, until, startChatServer } from './common.mjs';

const [exe, out] = process.argv.slice(2);
const { Client } = await import(pathToFileURL(join(out, 'chat.js')).href);
const rt = await import(pathToFileURL(join(out, 'client.js')).href);
setTimeout(() => fail('the test took more than 60 s'), 60000).unref();

const server = await startChatServer(exe, ['http://game.example']);
const url = `ws://127.0.0.1:${server.ws}/chat`;

// Every WebSocket the clients open, so the test can cut their TCP sockets, and the kinds of
// the ember frames each client sent and received (PROTOCOL.md §1), to see pings and acks.
const opened = [];
const counts = {};
function tracked(who) {
  const c = (counts[who] = { sent: new Map(), received: new Map() });
  const count = (m, bytes) => {
    for (let at = 0; at + 16 <= bytes.length; at += 16 + bytes.readUInt32BE(at))
      m.set(bytes[at + 4], (m.get(bytes[at + 4]) ?? 0) + 1);
  };
  return class extends WebSocket {
    constructor(u) {
      super(u);
      opened.push(this);
      this.on('message', (data) => count(c.received, Buffer.from(data))); // an ArrayBuffer: the client asks for those
    }
    send(data) {
      count(c.sent, Buffer.from(data.buffer, data.byteOffset, data.length));
      super.send(data);
    }
  };
}
const PING = 5, PONG = 6, ACK = 8;
const expectOk = (r, what) => {
  if (!r.ok) fail(`${what}: ${r.error.name} ${r.error.message}`);
  return r.value;
};
const cut = (client) => {
  // the socket under the WebSocket: the server sees a connection reset, no close frame
  client.socket._socket.destroy();
};
// bob only listens: nothing waits for his resume after a cut, so a slow machine may come to
// his next cut before it is done — one cut per connection, as the resume count expects
const cutWhenBack = async (client, name) => {
  await until(() => client.connected, `${name} to resume before the next cut`);
  cut(client);
};

// 1. An Origin not in the allow-list is refused: connect() rejects with a ConnectError.
class EvilWebSocket extends WebSocket {
  constructor(u) { super(u, { origin: 'http://evil.example' }); }
}
try {
  await new Client({ url, WebSocket: EvilWebSocket }).connect();
  fail('a page of http://evil.example connected');
} catch (e) {
  if (!(e instanceof rt.ConnectError) || !/403/.test(e.message)) fail(`origin refusal: ${e}`);
  console.log(`ok: an origin not in the allow-list is refused: ${e.message}`);
}
try {
  await new Client({ url: 'ws://127.0.0.1:1/', WebSocket, connectTimeoutMs: 2000 }).connect();
  fail('connected to port 1');
} catch (e) {
  if (!(e instanceof rt.ConnectError)) fail(`nothing listening: ${e}`);
  console.log(`ok: nothing listening: ${e.message}`);
}

// 2. Sign in (a wrong password first: a typed game error), join, talk.
const alice = new Client({ url, WebSocket: tracked('alice') });
const bob = new Client({ url, WebSocket: tracked('bob'), json: true }); // JSON bodies too
await alice.connect();
await bob.connect();
const early = await alice.say({ room: 'lobby', text: 'too early' });
if (early.ok || early.error.code !== 'not_logged_in' || early.error.status !== 1002)
  fail(`say before login: ${JSON.stringify(early)}`);
const bad = await alice.login({ user: 'alice', password: 'wrong' });
if (bad.ok || !(bad.error instanceof rt.RemoteError) || bad.error.code !== 'bad_password' || bad.error.status !== 1001)
  fail(`a wrong password: ${JSON.stringify(bad)}`);
const huge = await alice.say({ room: 'lobby', text: 'x'.repeat(70000) }); // the server takes 64 KiB
if (huge.ok || huge.error.name !== 'CodecError' || huge.error.code !== 'value_out_of_range')
  fail(`a request over the server's max_frame: ${JSON.stringify(huge)}`);
console.log(`ok: typed errors: ${early.error.message}; ${bad.error.message}; ${huge.error.message}`);
const a = expectOk(await alice.login({ user: 'alice', password: 'secret' }), 'alice login');
const b = expectOk(await bob.login({ user: 'bob', password: 'secret' }), 'bob login');
if (typeof a.user_id !== 'bigint' || a.motd !== 'welcome to ember chat, alice') fail(`login reply ${a.motd}`);
const heardByBob = [], heardByAlice = [];
bob.onChatMessage((m) => { if (m.from === 'alice') heardByBob.push(m.text); });
alice.onChatMessage((m) => { if (m.from === 'bob') heardByAlice.push(m.text); });
expectOk(await alice.join_room({ room: 'lobby' }), 'alice join');
const joined = expectOk(await bob.join_room({ room: 'lobby' }), 'bob join');
if (joined.room.members !== 2 || joined.room.name !== 'lobby') fail(`join reply ${JSON.stringify(joined)}`);
const said = expectOk(await bob.say({ room: 'lobby', text: 'hello alice' }), 'bob say');
if (said.delivered !== 2) fail(`delivered to ${said.delivered}`);
await until(() => heardByAlice.length === 1, 'alice to hear bob');
if (heardByAlice[0] !== 'hello alice') fail(`alice heard ${heardByAlice[0]}`);
console.log(`ok: alice (session ${alice.sessionId}, binary) and bob (session ${bob.sessionId}, JSON) signed in, joined and heard each other`);

// 3. Lost connections. Alice says 300 numbered lines in bursts of 10 calls in flight; between
// bursts the TCP socket of bob (who only listens) or of alice (who is calling) is destroyed —
// sometimes right after the burst's requests were written, before their replies. Every call
// must complete, and bob must hear every line exactly once, in order.
const lines = 300;
let drops = 0;
// a second handler of bob's that throws: reported to onError, the session and the first handler go on
const bobErrors = [];
bob.onError((e) => bobErrors.push(e));
const stopBuggy = bob.onChatMessage(() => { throw new Error('a handler bug'); });
for (let i = 0; i < lines; i += 10) {
  const burst = [];
  for (let j = i; j < i + 10; ++j) burst.push(alice.say({ room: 'lobby', text: `line ${j}` }));
  if (i % 30 === 10) {
    await Promise.resolve(); // the burst's requests are written: they are in flight
    cut(alice);
    ++drops;
  }
  if (i % 30 === 20) {
    await cutWhenBack(bob, 'bob');
    ++drops;
  }
  for (const r of await Promise.all(burst)) expectOk(r, `say in burst ${i / 10}`);
}
expectOk(await bob.list_rooms(), 'bob list_rooms'); // replies come after the pushes before them
await until(() => heardByBob.length >= lines, `bob to hear ${lines} lines (has ${heardByBob.length})`);
for (let j = 0; j < lines; ++j) {
  if (heardByBob[j] !== `line ${j}`) fail(`bob's line ${j} is '${heardByBob[j]}' (heard ${heardByBob.length})`);
}
if (heardByBob.length !== lines) fail(`bob heard ${heardByBob.length} lines, not ${lines}`);
stopBuggy();
if (bobErrors.length !== lines || bobErrors[0].message !== 'a handler bug') fail(`bob's onError heard ${bobErrors.length} errors`);
if (alice.resumes + bob.resumes !== drops) fail(`${drops} connections cut, ${alice.resumes + bob.resumes} resumes`);
console.log(`ok: ${drops} connections cut (alice resumed ${alice.resumes} times, bob ${bob.resumes}): ` +
            `bob heard all ${lines} lines once, in order; every call completed; ${opened.length} WebSockets opened`);

// bob only listened: his client acknowledged what arrived (an ack frame per 16 frames or so),
// so the server's outbox of his session did not keep all 300 lines
const bobAcks = counts.bob.sent.get(ACK) ?? 0;
if (bobAcks < lines / 32 || bobAcks > lines) fail(`bob sent ${bobAcks} ack frames for ${lines} pushes`);
console.log(`ok: bob, who only listens, sent ${bobAcks} ack frames for ${lines} pushes and ${bob.resumes} resumes`);

// 4. Pushes while away: bob's socket is cut and alice talks before bob is back.
await cutWhenBack(bob, 'bob');
for (let j = 0; j < 20; ++j) expectOk(await alice.say({ room: 'lobby', text: `away ${j}` }), 'say while bob is away');
await until(() => heardByBob.length === lines + 20, 'bob to hear the lines said while he was away');
if (heardByBob.slice(lines).join() !== Array.from({ length: 20 }, (_, j) => `away ${j}`).join())
  fail(`bob heard ${heardByBob.slice(lines)}`);
console.log('ok: 20 lines said while bob was away arrive once, in order, after his resume');

// Pings (PROTOCOL.md §4): a client told to ping every 50 ms does, and the server's pongs come.
const carol = new Client({ url, WebSocket: tracked('carol'), pingIntervalMs: 50 });
await carol.connect();
await until(() => (counts.carol.received.get(PONG) ?? 0) >= 4, 'carol to get 4 pongs');
if ((counts.carol.sent.get(PING) ?? 0) < 4 || !carol.connected) fail('carol did not ping');
carol.close();
console.log(`ok: pings every 50 ms: ${counts.carol.sent.get(PING)} pings, ${counts.carol.received.get(PONG)} pongs`);

// 5. A call's timeout (the server stopped by SIGSTOP), and a closed session: calls end with
// typed errors, never hang.
server.pause();
const started = Date.now();
const quick = await alice.list_rooms({}, { timeoutMs: 300 });
const waited = Date.now() - started;
server.resume();
if (quick.ok || !(quick.error instanceof rt.TimeoutError) || waited < 290 || waited > 5000)
  fail(`a 300 ms call to a stopped server: ${JSON.stringify(quick)} after ${waited} ms`);
let closedWhy;
bob.onClosed((why) => { closedWhy = why; });
bob.close();
const afterClose = await bob.say({ room: 'lobby', text: 'gone' });
if (afterClose.ok || !(afterClose.error instanceof rt.DisconnectedError) || !closedWhy) fail('a call after close()');
const members = expectOk(await alice.list_rooms(), 'list_rooms after bob left');
console.log(`ok: timeouts and close() give typed errors (${quick.error.message}; ${afterClose.error.message}); rooms: ${JSON.stringify(members.rooms)}`);
alice.close();

// 6. A session the server no longer has: the server is killed while dave waits for a reply and
// a new one starts on the same ports; dave's resume is refused (session_expired), his call
// ends with an expired DisconnectedError, and onClosed hears it.
const dave = new Client({ url, WebSocket, resumeBackoffMaxMs: 200 });
await dave.connect();
expectOk(await dave.login({ user: 'dave', password: 'secret' }), 'dave login');
let daveClosed;
dave.onClosed((why) => { daveClosed = why; });
server.pause(); // the request arrives but is never answered
const pending = dave.list_rooms({}, { timeoutMs: 20000 });
await new Promise((r) => setTimeout(r, 100));
await server.kill();
const again = await startChatServer(exe, [], server);
const lost = await pending;
if (lost.ok || !(lost.error instanceof rt.DisconnectedError) || !lost.error.expired || !daveClosed?.expired)
  fail(`a call when the session expired: ${JSON.stringify(lost)}, closed ${daveClosed}`);
console.log(`ok: a session the restarted server no longer has: ${lost.error.message}`);
await again.stop();
console.log('PASS');
