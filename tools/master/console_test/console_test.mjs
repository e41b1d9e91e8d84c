// Drives Debian's chromium (puppeteer-core, headless) against ember-master's console on a real
// cluster that test_console.cpp has started. Every step has a deadline; the first failure ends
// the run with exit code 1 and says which step. Writes requests.txt (every URL the browser
// asked for) and the screenshots into OUT, and prints each screenshot's path.
//
// usage: node console_test.mjs OUT URL TOKEN USER_ID USER_NET USER_GAME
import fs from 'node:fs';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

const [out, base, token, userId, userNet, userGame] = process.argv.slice(2);
const servers = ['gate', 'net1', 'net2', 'game1', 'game2'];
const STEP_MS = 30000;

let step = 'start';
const fail = (why) => { throw new Error(why); };
const expect = (ok, why) => { if (!ok) fail(why); };

/// GET /status as the test sees it, outside the browser.
async function status() {
  const r = await fetch(base + 'status', { headers: { Authorization: 'Bearer ' + token } });
  expect(r.status === 200, 'GET /status with the token: HTTP ' + r.status);
  return r.json();
}
const own = (s, name) => (s.servers.find((x) => x.name === name) || {}).server || {};

/// Polls `f` until it is truthy (bounded).
async function until(f, what, limit = STEP_MS) {
  const end = Date.now() + limit;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) fail('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const browser = await puppeteer.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
});
const requests = [];
const problems = [];
let code = 0;
try {
  const page = await browser.newPage();
  /// Clicks the element `selector` finds, found and clicked in one step of the page: the tables
  /// are drawn again at every poll, so an element found first and clicked later may be gone.
  async function press(selector) {
    await page.waitForSelector(selector);
    await page.$eval(selector, (e) => e.click());
  }

  page.setDefaultTimeout(STEP_MS);
  page.on('request', (r) => requests.push(r.method() + ' ' + r.url()));
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('console', (m) => { if (m.type() === 'error' && !/status of (401|502)/.test(m.text())) problems.push('console: ' + m.text()); });
  // confirm()s are accepted; prompts get the kick's reason, the ban's reason and its minutes.
  page.on('dialog', (d) => d.accept(d.type() !== 'prompt' ? undefined
    : /minutes/.test(d.message()) ? '30' : /^Ban/.test(d.message()) ? 'banned by the console test' : 'kicked by the console test'));
  await page.setViewport({ width: 1280, height: 900 });

  step = 'the page loads and asks for the token';
  const r = await page.goto(base, { waitUntil: 'domcontentloaded' });
  expect(r.status() === 200, 'GET / answered ' + r.status());
  expect((r.headers()['content-security-policy'] || '').includes("script-src 'self'"), 'no CSP on the page');
  await page.waitForSelector('#signin:not([hidden])');

  step = 'a wrong token is refused';
  await page.type('#token', 'not-the-token-' + Date.now());
  await press('#signin-button');
  await page.waitForFunction(() => /Wrong token/.test(document.getElementById('signin-error').textContent));
  expect(await page.$eval('#cluster', (e) => e.hidden), 'the cluster shows after a wrong token');
  expect(await page.evaluate(() => sessionStorage.length === 0), 'a refused token stays in sessionStorage');
  const direct = await fetch(base + 'status', { headers: { Authorization: 'Bearer wrong' } });
  expect(direct.status === 401, 'GET /status with a wrong token: HTTP ' + direct.status);

  step = 'signs in and shows every server running';
  await page.type('#token', token);
  await press('#signin-button');
  await page.waitForSelector('#cluster:not([hidden])');
  await page.waitForFunction((names) => {
    const rows = [...document.querySelectorAll('#servers tbody tr')];
    return names.every((n) => rows.some((r) => r.dataset.server === n &&
      r.querySelector('.state').textContent === 'running'));
  }, {}, servers);
  const shown = await page.$$eval('#servers tbody tr', (rows) => rows.map((r) => r.dataset.server + ':' +
    r.querySelector('.state').textContent));
  console.log('servers on the page: ' + shown.join(' '));
  expect(await page.evaluate(() => sessionStorage.getItem('ember.console.token') !== null), 'token not kept');

  step = 'a data reload clicked on the page reaches the server';
  const before = own(await status(), 'game1');
  await press('button[data-action="reload-data"][data-server="game1"]');
  await page.waitForFunction(() => [...document.querySelectorAll('#activity li.ok')]
    .some((li) => li.textContent.includes('reload data on game1: reloaded')));
  const after = await until(async () => {
    const g = own(await status(), 'game1');
    return g.reloads === before.reloads + 1 ? g : null;
  }, "game1's reload counter to go up");
  console.log(`game1 reloads: ${before.reloads} before the click, ${after.reloads} after`);

  step = 'a refused logic reload is shown as refused';
  const game2Before = own(await status(), 'game2').reload_failures;
  await press('button[data-action="reload"][data-server="game2"]');
  await page.waitForFunction(() => [...document.querySelectorAll('#activity li.bad')]
    .some((li) => li.textContent.includes('reload logic on game2: world_server has no module')));
  await until(async () => own(await status(), 'game2').reload_failures === game2Before + 1,
              "game2's reload failures to go up");

  step = 'requests per second appear after two polls';
  await page.waitForFunction((net) => {
    const row = document.querySelector(`#servers tbody tr[data-server="${net}"]`);
    return row && row.children[5].textContent !== '';
  }, {}, userNet);
  const shot = async (name) => {
    const file = path.join(out, name);
    await page.screenshot({ path: file, fullPage: true });
    console.log('screenshot: ' + file);
  };
  await shot('console-desktop.png');

  step = "a server's page shows its per-command table";
  await press(`#servers a[href="#/server/${userGame}"]`);
  await page.waitForSelector('#server:not([hidden])');
  await page.waitForFunction(() => [...document.querySelectorAll('#commands tbody td.name')]
    .some((td) => td.textContent === 'login'));
  const commands = await page.$$eval('#commands tbody tr', (rows) => rows.map((r) =>
    [...r.children].map((c) => c.textContent).join(' | ')));
  console.log(`${userGame}'s commands on the page:\n  ` + commands.join('\n  '));
  await shot('console-server-desktop.png');

  step = 'finds the player and kicks it';
  await page.goto(base + '#/players');
  await page.waitForSelector('#players:not([hidden])');
  await page.type('#player-id', userId);
  await press('#player-find');
  await page.waitForFunction((net) => document.querySelector(`#player-servers tbody tr[data-server="${net}"] button[data-kick]`),
                             {}, userNet);
  const where = await page.$eval('#player-result', (e) => e.textContent);
  console.log('player search: ' + where);
  expect(where.includes(userNet), `the player's net server ${userNet} is not named: ${where}`);
  await press(`#player-servers tbody tr[data-server="${userNet}"] button[data-kick]`);
  await page.waitForFunction((net) => [...document.querySelectorAll('#activity li.ok')]
    .some((li) => li.textContent.includes(`on ${net}: kicked`)), {}, userNet);
  // Searched again after the kick: no session of the player on its net server any more.
  await page.waitForFunction((net) => !/searching/.test(document.getElementById('player-result').textContent) &&
    !document.querySelector(`#player-servers tbody tr[data-server="${net}"] button[data-kick]`), {}, userNet);
  console.log('player search after the kick: ' + await page.$eval('#player-result', (e) => e.textContent));

  step = "bans the player's account";
  await press('#player-actions:not([hidden]) #player-ban');
  await page.waitForFunction(() => [...document.querySelectorAll('#activity li')]
    .some((li) => / ban \d+/.test(li.textContent)));
  const banned = await page.$$eval('#activity li', (lis) => lis.map((li) => li.className + ' ' + li.textContent)
    .filter((t) => / ban \d+/.test(t)));
  console.log('ban on the page: ' + banned.join('; '));
  expect(banned.length === 1 && banned[0].startsWith('ok ') && banned[0].endsWith(': banned'),
         'the ban did not succeed: ' + banned.join('; '));

  step = 'a drain clicked on the page drains the other game server';
  // The game that does not serve our player: the drain moves nobody a later step needs.
  const drained = userGame === 'game1' ? 'game2' : 'game1';
  await page.goto(base + '#/');
  expect(own(await status(), drained).drain === 'serving', `${drained} is not serving before the drain`);
  await press(`#servers button[data-action="drain"][data-server="${drained}"]`);  // the confirm() is accepted
  await page.waitForFunction((g) => [...document.querySelectorAll('#activity li.ok')]
    .some((li) => li.textContent.includes(`drain ${g}: draining`)), {}, drained);
  await until(async () => own(await status(), drained).drain === 'drained', `${drained} to be drained`);
  await page.waitForFunction((g) => {
    const row = document.querySelector(`#servers tbody tr[data-server="${g}"]`);
    return row && /^drained/.test(row.querySelector('.state').textContent);
  }, {}, drained);
  console.log(`${drained} on the page: ` + await page.$eval(`#servers tbody tr[data-server="${drained}"] .state`,
                                                         (e) => e.textContent));

  step = "usable at a phone's width (390 px)";
  await page.setViewport({ width: 390, height: 844, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  await page.goto(base + '#/');
  await page.waitForFunction((net) => {
    const row = document.querySelector(`#servers tbody tr[data-server="${net}"]`);
    return document.querySelectorAll('#servers tbody tr').length === 5 && row && row.children[5].textContent !== '';
  }, {}, userNet);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  expect(width <= 390, `the page is ${width} px wide at a 390 px viewport`);
  expect(await page.$eval('#servers thead', (e) => getComputedStyle(e).display === 'none'), 'the table did not become cards');
  await shot('console-mobile.png');
  await page.goto(base + `#/server/${userGame}`);
  await page.waitForFunction(() => [...document.querySelectorAll('#commands tbody td[data-label="Req/s"]')]
    .some((td) => td.textContent !== ''));
  await shot('console-server-mobile.png');

  step = 'signing out forgets the token';
  await press('#signout');
  await page.waitForSelector('#signin:not([hidden])');
  expect(await page.evaluate(() => sessionStorage.length === 0), 'the token outlived sign-out');

  step = 'the page ran without errors';
  expect(problems.length === 0, problems.join('; '));
  console.log('console test: every step passed');
} catch (e) {
  console.error(`console test failed at "${step}": ${e.message}`);
  code = 1;
} finally {
  fs.writeFileSync(path.join(out, 'requests.txt'), requests.join('\n') + '\n');
  console.log(`${requests.length} browser requests logged in ${path.join(out, 'requests.txt')}`);
  await browser.close();
}
process.exit(code);
