// The chat example's web page (examples/chat/web/) in a real browser: Debian's chromium,
// headless, driven by puppeteer-core. The page, served here over HTTP with the generated client
// compiled by tsc, connects over WebSocket to a real chat_server, signs in, joins, talks and
// hears a Node client; the test checks the page's DOM and keeps a screenshot. The same page
// served from an origin the server does not allow fails to connect. The page reaches the server
// through a TCP relay in this test, which cuts its connection once: the page resumes. Last, the
// page talks to a chat_server over wss:// (TLS, a certificate made by openssl for the test).
// usage: node browser_test.mjs CHAT_SERVER OUT_DIR WEB_DIR WORK_DIR   (run.py runs it)
import { createServer } from 'node:http';
import { createServer as createTcpServer, connect as tcpConnect } from 'node:net';
import { readFile } from 'node:fs/promises';
import { join, normalize, extname } from 'node:path';
import { pathToFileURL } from 'node:url';
import WebSocket from 'ws';
import puppeteer from 'puppeteer-core';
import { fail, until, startChatServer, makeCertificate } from './common.mjs';
import { mkdirSync } from 'node:fs';

const [exe, out, web, work] = process.argv.slice(2);
const { Client } = await import(pathToFileURL(join(out, 'chat.js')).href);
setTimeout(() => fail('the test took more than 120 s'), 120000).unref();
const chromium = process.env.CHROMIUM ?? '/usr/bin/chromium';

// A static server: /gen/* from the compiled client, everything else from the page's directory.
const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css' };
function serve() {
  const http = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    const file = path.startsWith('/gen/') ? join(out, path.slice(5)) : join(web, path === '/' ? 'index.html' : path);
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  });
  return new Promise((resolve) => http.listen(0, '127.0.0.1', () => resolve(http)));
}
const site = await serve();
const otherSite = await serve();
const origin = `http://127.0.0.1:${site.address().port}`;
const otherOrigin = `http://127.0.0.1:${otherSite.address().port}`;
const server = await startChatServer(exe, [origin]);
const directUrl = `ws://127.0.0.1:${server.ws}/`;

// The page reaches the server through a TCP relay here, so the test can cut its connection
// (both sockets destroyed: the browser and the server each see the connection die).
const relayed = new Set();
const relay = createTcpServer((down) => {
  const up = tcpConnect(server.ws, '127.0.0.1');
  const pair = { down, up };
  relayed.add(pair);
  down.pipe(up);
  up.pipe(down);
  const end = () => {
    down.destroy();
    up.destroy();
    relayed.delete(pair);
  };
  for (const sock of [down, up]) sock.on('error', end).on('close', end);
});
await new Promise((r) => relay.listen(0, '127.0.0.1', r));
const wsUrl = `ws://127.0.0.1:${relay.address().port}/`;

const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  userDataDir: join(work, 'chromium-profile'),
  args: [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), '--disable-dev-shm-usage', '--disable-gpu',
         '--no-first-run', '--no-default-browser-check'],
});
process.on('exit', () => browser.process()?.kill('SIGKILL'));
console.log(`chromium ${await browser.version()} (${chromium})`);

async function open(from, user) {
  const page = await browser.newPage();
  page.on('console', (m) => console.log(`page ${user}: ${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => fail(`page ${user}: ${e.message}`));
  await page.setViewport({ width: 900, height: 700 });
  const q = new URLSearchParams({ server: wsUrl, user, room: 'lobby', connect: '1' });
  await page.goto(`${from}/index.html?${q}`, { waitUntil: 'load' });
  return page;
}
const state = (page) => page.$eval('#status', (e) => ({ state: e.dataset.state, text: e.textContent }));
const lines = (page) => page.$$eval('#log li', (items) => items.map((li) => li.textContent));

// 1. The page from the allowed origin: online, then talk with a Node client in the same room.
const page = await open(origin, 'carol');
await page.waitForSelector('#status[data-state=online], #status[data-state=error]', { timeout: 15000 });
let s = await state(page);
if (s.state !== 'online') fail(`the page did not come online: ${s.text}`);
console.log(`ok: the page from ${origin} is ${s.text}`);

const dave = new Client({ url: directUrl, WebSocket });
await dave.connect();
const heard = [];
dave.onChatMessage((m) => heard.push(`${m.from}: ${m.text}`));
for (const r of [await dave.login({ user: 'dave', password: 'secret' }), await dave.join_room({ room: 'lobby' })])
  if (!r.ok) fail(`dave: ${r.error.message}`);
if (!(await dave.say({ room: 'lobby', text: 'hello from node' })).ok) fail('dave could not say');

await page.type('#text', 'hello from the browser');
await page.click('#say');
await page.waitForFunction(() => {
  const all = [...document.querySelectorAll('#log li')].map((li) => li.textContent);
  return all.includes('davehello from node') && all.includes('carolhello from the browser');
}, { timeout: 15000 }).catch(async () => fail(`the page shows ${JSON.stringify(await lines(page))}`));
await until(() => heard.includes('carol: hello from the browser'), 'dave to hear carol');
const shown = await lines(page);
if (shown[0] !== 'welcome to ember chat, carol' || !/^joined lobby \(1 here\)$/.test(shown[1]))
  fail(`the page's log starts ${JSON.stringify(shown.slice(0, 2))}`);
if (shown.filter((l) => l === 'carolhello from the browser').length !== 1) fail(`carol's line shown twice: ${shown}`);
const mine = await page.$$eval('#log li.mine', (l) => l.length);
const theirs = await page.$$eval('#log li.theirs', (l) => l.length);
if (mine !== 1 || theirs !== 1) fail(`the page marks ${mine} lines as mine and ${theirs} as others'`);
if (await page.$eval('#text', (e) => e.value) !== '') fail('the text field was not cleared after saying');
console.log(`ok: the page shows ${JSON.stringify(shown)}; dave heard carol`);
const shot = join(work, 'chat-browser.png');
await page.screenshot({ path: shot, fullPage: true });
console.log(`screenshot: ${shot}`);

// 2. The page's connection cut: the page resumes its session by itself and shows what was said
// meanwhile, once each, in order; then it talks again.
const cuts = relayed.size;
for (const { down, up } of [...relayed]) {
  down.destroy();
  up.destroy();
}
for (let i = 0; i < 5; ++i) {
  if (!(await dave.say({ room: 'lobby', text: `while you were away ${i}` })).ok) fail('dave could not say');
}
await page.waitForFunction(() => document.querySelector('#status').textContent.includes('(resumed)') &&
                                 [...document.querySelectorAll('#log li')].length >= 9, { timeout: 15000 })
  .catch(async () => fail(`after the cut the page shows ${JSON.stringify(await state(page))} ${JSON.stringify(await lines(page))}`));
await page.type('#text', 'back again');
await page.click('#say');
await until(() => heard.includes('carol: back again'), 'dave to hear carol after her resume');
const after = (await lines(page)).slice(4);
const want = [0, 1, 2, 3, 4].map((i) => `davewhile you were away ${i}`).concat(['carolback again']);
await page.waitForFunction((n) => document.querySelectorAll('#log li').length >= n, { timeout: 15000 }, 4 + want.length);
const afterAll = (await lines(page)).slice(4);
if (JSON.stringify(afterAll) !== JSON.stringify(want)) fail(`after the cut the page shows ${JSON.stringify(afterAll)} (first ${JSON.stringify(after)})`);
s = await state(page);
console.log(`ok: ${cuts} connection(s) of the page cut: ${s.text}; the 5 lines said meanwhile shown once, in order, and the page talks again`);
const resumedShot = join(work, 'chat-browser-resumed.png');
await page.screenshot({ path: resumedShot, fullPage: true });
console.log(`screenshot: ${resumedShot}`);

// 3. The same page from another origin: the server refuses the upgrade (403), the page says so.
const evil = await open(otherOrigin, 'mallory');
await evil.waitForSelector('#status[data-state=online], #status[data-state=error]', { timeout: 15000 });
s = await state(evil);
if (s.state !== 'error' || !s.text.startsWith('could not connect')) fail(`a page from ${otherOrigin}: ${s.text}`);
console.log(`ok: the page from ${otherOrigin} (not allowed) did not connect: ${s.text}`);
await evil.screenshot({ path: join(work, 'chat-browser-refused.png') });
console.log(`screenshot: ${join(work, 'chat-browser-refused.png')}`);

// 4. wss://: a chat_server whose ports speak TLS, a certificate made now; chromium trusts that
// one key (not every certificate) and the page connects, signs in and talks over TLS.
const certDir = join(work, 'tls');
mkdirSync(certDir, { recursive: true });
const certificate = makeCertificate(certDir);
const secure = await startChatServer(exe, [origin], { tcp: 0, ws: 0 }, certificate);
const tlsBrowser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  userDataDir: join(work, 'chromium-profile-tls'),
  args: [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), '--disable-dev-shm-usage', '--disable-gpu',
         '--no-first-run', '--no-default-browser-check',
         `--ignore-certificate-errors-spki-list=${certificate.spki}`],
});
process.on('exit', () => tlsBrowser.process()?.kill('SIGKILL'));
const tlsPage = await tlsBrowser.newPage();
tlsPage.on('console', (m) => console.log(`page erin: ${m.type()}: ${m.text()}`));
tlsPage.on('pageerror', (e) => fail(`page erin: ${e.message}`));
await tlsPage.setViewport({ width: 900, height: 700 });
const wssUrl = `wss://127.0.0.1:${secure.ws}/`;
await tlsPage.goto(`${origin}/index.html?${new URLSearchParams({ server: wssUrl, user: 'erin', room: 'lobby', connect: '1' })}`,
                   { waitUntil: 'load' });
await tlsPage.waitForSelector('#status[data-state=online], #status[data-state=error]', { timeout: 15000 });
s = await state(tlsPage);
if (s.state !== 'online') fail(`the page did not come online over ${wssUrl}: ${s.text}`);
await tlsPage.type('#text', 'hello over tls');
await tlsPage.click('#say');
await tlsPage.waitForFunction(() => [...document.querySelectorAll('#log li')].some((li) => li.textContent === 'erinhello over tls'),
                              { timeout: 15000 }).catch(async () => fail(`over wss the page shows ${JSON.stringify(await lines(tlsPage))}`));
console.log(`ok: the page connected over ${wssUrl} (${s.text}) and its line came back through the server`);
const tlsShot = join(work, 'chat-browser-wss.png');
await tlsPage.screenshot({ path: tlsShot, fullPage: true });
console.log(`screenshot: ${tlsShot}`);
await tlsBrowser.close();
await secure.stop();

dave.close();
await browser.close();
relay.close();
site.close();
otherSite.close();
await server.stop();
console.log('PASS');
