// The generated TypeScript client's retries (CallOptions.retries / requestId) in Node 20 against
// retry_server (tests/clients/retry_server.cpp): a real gateway that gives a forwarded request
// 300 ms, in front of a real game backend whose `step` takes as long as it is told. A call
// retried after `outcome_unknown` carries the same request id on the wire, and the game's reply
// cache answers the retry with the first run's reply: `runs` counts one run. Then a pair of
// client-facing servers, one of which drains: the client follows its `moved` push to the other.
// usage: node retry_test.mjs RETRY_SERVER OUT_DIR    (run.py runs it)
import WebSocket from 'ws';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fail, sleep, until } from './common.mjs';

const [exe, out] = process.argv.slice(2);
const { Client } = await import(pathToFileURL(join(out, 'routetest.js')).href);
const { CodecError } = await import(pathToFileURL(join(out, 'ember.js')).href);
setTimeout(() => fail('the test took more than 150 s'), 150000).unref();

// A retry_server that exits with EX_TEMPFAIL (75: a port it picked was taken) is started again.
async function startRetryServer(...args) {
  const portFile = join(mkdtempSync(join(tmpdir(), 'ember-retry-')), 'ports');
  let child, exited;
  for (let attempt = 1; ; ++attempt) {
    child = spawn(exe, ['--port-file', portFile, ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
    exited = false;
    child.on('exit', () => { exited = true; });
    await until(() => exited || (existsSync(portFile) && readFileSync(portFile, 'utf8').endsWith('\n')),
                'retry_server to write its ports');
    if (!exited) break;
    if (child.exitCode !== 75 || attempt === 3) fail(`retry_server exited at start (status ${child.exitCode})`);
  }
  const [, ws, , ws2] = readFileSync(portFile, 'utf8').trim().split(' ').map(Number);
  process.on('exit', () => { if (!exited) child.kill('SIGKILL'); });
  return {
    url: `ws://127.0.0.1:${ws}/`,
    url2: `ws://127.0.0.1:${ws2}/`,  // with --pair: net2's WebSocket listener
    drain() { child.kill('SIGUSR1'); },  // with --pair: net1 drains, its sessions move to net2
    async stop() {
      child.kill('SIGTERM');
      await until(() => exited, 'retry_server to stop');
      if (child.exitCode !== 0) fail(`retry_server stopped with status ${child.exitCode} (signal ${child.signalCode})`);
    },
  };
}

// The request frames (PROTOCOL.md §1) a client sends: command, flags and, with flag 0x04,
// the request id in front of the body.
const STEP = 508;
function recording(sent) {
  return class extends WebSocket {
    send(data) {
      const b = Buffer.from(data.buffer, data.byteOffset, data.length);
      for (let at = 0; at + 16 <= b.length; at += 16 + b.readUInt32BE(at)) {
        if (b[at + 4] !== 1) continue;  // requests only
        const flags = b[at + 5];
        sent.push({ command: b.readUInt16BE(at + 6), flags,
                    id: flags & 0x04 ? b.readBigUInt64BE(at + 16) : 0n });
      }
      super.send(data);
    }
  };
}
const expectOk = (r, what) => {
  if (!r.ok) fail(`${what}: ${r.error.name} ${r.error.message}`);
  return r.value;
};
const runsOf = async (client, n) => expectOk(await client.runs({ n }), `runs ${n}`).runs;

// 1. A step of 450 ms outlasts the gateway's 300: the first attempt ends with outcome_unknown
//    while the game runs it; the retry carries the same id and gets that run's reply.
{
  const server = await startRetryServer();
  const sent = [];
  const client = new Client({ url: server.url, WebSocket: recording(sent) });
  await client.connect();
  const r = await client.step({ n: 1, delay_ms: 450 }, { timeoutMs: 5000, retries: 3 });
  if (expectOk(r, 'step 1 with retries').n !== 1) fail(`step 1 answered ${JSON.stringify(r.value)}`);
  const steps = sent.filter((f) => f.command === STEP);
  if (steps.length < 2) fail(`step 1 was sent ${steps.length} time(s); the first attempt cannot have had its reply`);
  if (!steps.every((f) => f.flags === 0x04 && f.id === steps[0].id && f.id !== 0n))
    fail(`the attempts of step 1 do not carry one request id: ${JSON.stringify(steps, (_, v) => typeof v === 'bigint' ? `${v}` : v)}`);
  const runs1 = await runsOf(client, 1);
  if (runs1 !== 1) fail(`step 1 ran ${runs1} times for ${steps.length} attempts`);
  console.log(`ok: a step retried after outcome_unknown (${steps.length} attempts, one request id) ran once`);

  // Without retries the caller hears the unknown outcome, and no id is sent.
  sent.length = 0;
  const once = await client.step({ n: 2, delay_ms: 450 });
  if (once.ok || once.error.code !== 'outcome_unknown' || once.error.status !== 15)
    fail(`step 2 without retries: ${once.ok ? 'ok' : once.error.message}`);
  if (sent.length !== 1 || sent[0].flags !== 0) fail(`step 2 was sent as ${JSON.stringify(sent, (_, v) => typeof v === 'bigint' ? `${v}` : v)}`);
  console.log(`ok: without retries the call ends with ${once.error.code}, sent once without an id`);

  // A caller that keeps its id and sends again by itself: the second answer is the first
  // run's, and only a new id runs again.
  const id = client.newRequestId();
  expectOk(await client.step({ n: 3 }, { requestId: id }), 'step 3');
  expectOk(await client.step({ n: 3 }, { requestId: id }), 'step 3 again, same id');
  if (await runsOf(client, 3) !== 1) fail('step 3 sent twice with one request id ran twice');
  expectOk(await client.step({ n: 3 }, { requestId: client.newRequestId() }), 'step 3, new id');
  if (await runsOf(client, 3) !== 2) fail('step 3 with a new request id did not run');
  console.log('ok: the same request id twice runs once; a new id runs again');

  // The same in JSON (flags 0x05: the id, then the JSON body).
  const jsonSent = [];
  const jsonClient = new Client({ url: server.url, WebSocket: recording(jsonSent), json: true });
  await jsonClient.connect();
  const j = await jsonClient.step({ n: 5, delay_ms: 450 }, { timeoutMs: 5000, retries: 3 });
  if (expectOk(j, 'step 5 in JSON').n !== 5) fail('step 5 in JSON: wrong reply');
  const jsonSteps = jsonSent.filter((f) => f.command === STEP);
  if (jsonSteps.length < 2 || !jsonSteps.every((f) => f.flags === 0x05 && f.id === jsonSteps[0].id))
    fail(`the JSON attempts of step 5 do not carry one request id (${jsonSteps.length} sent)`);
  if (await runsOf(jsonClient, 5) !== 1) fail('step 5 in JSON ran more than once');
  jsonClient.close();
  console.log(`ok: in JSON too (${jsonSteps.length} attempts, one run)`);

  // Retries stop at the call's deadline: a step of 3 s, a deadline of 1 s, 100 retries allowed.
  sent.length = 0;
  const t0 = Date.now();
  const late = await client.step({ n: 4, delay_ms: 3000 }, { timeoutMs: 1000, retries: 100 });
  const took = Date.now() - t0;
  if (late.ok || !['outcome_unknown', 'timeout'].includes(late.error.code))
    fail(`step 4 past its deadline: ${late.ok ? 'ok' : late.error.message}`);
  if (took > 10000) fail(`step 4 with a deadline of 1 s took ${took} ms`);
  const attempts = sent.filter((f) => f.command === STEP).length;
  if (attempts < 2 || attempts > 101) fail(`step 4: ${attempts} attempts`);
  const end = Date.now() + 10000;
  while ((await runsOf(client, 4)) === 0) {
    if (Date.now() > end) fail('step 4 never ran');
    await sleep(100);
  }
  await sleep(500);
  if (await runsOf(client, 4) !== 1) fail('step 4 ran more than once');
  console.log(`ok: retries end at the call's deadline (${late.error.code} after ${attempts} attempts), and the step ran once`);

  // Bad options are refused before anything is sent.
  const bad = await client.step({ n: 6 }, { retries: -1 });
  if (bad.ok || !(bad.error instanceof CodecError) || bad.error.code !== 'value_out_of_range') fail('retries -1 was taken');
  const big = await client.step({ n: 6 }, { requestId: 1n << 64n });
  if (big.ok || big.error.code !== 'value_out_of_range') fail('a request id of 2^64 was taken');
  if (await runsOf(client, 6) !== 0) fail('a refused call ran');
  console.log('ok: retries out of range and a request id past u64 are refused, nothing sent');
  client.close();
  await server.stop();
}

// 2. `unavailable` (no game linked yet: the request was not run) is retried, and the game
//    links only once the gateway has refused the first attempt.
{
  const server = await startRetryServer('--game-after-unavailable');
  const sent = [];
  const client = new Client({ url: server.url, WebSocket: recording(sent) });
  await client.connect();
  const r = await client.step({ n: 1 }, { timeoutMs: 10000, retries: 50 });
  expectOk(r, 'step 1 while the game links');
  const attempts = sent.filter((f) => f.command === STEP).length;
  if (attempts < 2) fail(`step 1 was sent ${attempts} time(s), but the first attempt was refused`);
  if (await runsOf(client, 1) !== 1) fail('step 1 retried after unavailable ran more than once');
  console.log(`ok: a call refused with unavailable is retried until the game is there (${attempts} attempts, one run)`);
  client.close();
  await server.stop();
}
// 3. A server that drains moves its sessions (PROTOCOL.md §3, "Moving to another server"):
//    the client follows the `moved` push to the other server's WebSocket port and resumes
//    there. The steps in flight run once, every push arrives once and in order, and the
//    game's view of the session (its user) follows it.
{
  const server = await startRetryServer('--pair');
  const client = new Client({ url: server.url, WebSocket });
  const notes = [];
  client.onNote((n) => notes.push(n.text));
  let resumes = 0;
  client.onResumed(() => { resumes++; });
  await client.connect();
  expectOk(await client.login({ user: 42n, stay: true }), 'login');
  const calls = [];
  for (let k = 1; k <= 30; ++k) {
    calls.push(client.step({ n: 100 + k, delay_ms: (k % 3) * 10 }, { timeoutMs: 20000 }).then((r) => expectOk(r, `step ${100 + k}`)));
    calls.push(client.note_me({ text: `${k}` }, { timeoutMs: 20000 }).then((r) => expectOk(r, `note_me ${k}`)));
  }
  await sleep(30);
  server.drain();
  await Promise.all(calls);
  await until(() => client.url === server.url2 && client.connected, `the client to resume at ${server.url2}`, 20000);
  if (resumes < 1) fail('the client reached net2 without a resume');
  const me = expectOk(await client.whoami({}), 'whoami on net2');
  if (me.user !== 42n) fail(`the game sees user ${me.user} after the move, not 42`);
  for (let k = 1; k <= 30; ++k)
    if (await runsOf(client, 100 + k) !== 1) fail(`step ${100 + k} did not run exactly once across the move`);
  expectOk(await client.note_me({ text: 'after' }), 'note_me after the move');
  await until(() => notes.length >= 31, 'the push after the move');
  const want = [...Array.from({ length: 30 }, (_, i) => `${i + 1}`), 'after'];
  if (JSON.stringify(notes) !== JSON.stringify(want)) fail(`pushes across the move: ${JSON.stringify(notes)}`);
  console.log(`ok: a drained server moved the session to ${client.url}: 30 steps ran once, 31 pushes once and in order`);
  client.close();
  await server.stop();
}
console.log('retry_test: all passed');
process.exit(0);
