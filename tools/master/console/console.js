// ember-master's console: polls the admin API's GET /status every 1.5 s and draws the cluster,
// a server's commands and the players page; actions are the admin API's POSTs. The token is
// kept in sessionStorage (this tab only) and sent as `Authorization: Bearer`, never in a URL.
// Text goes into the page through textContent only (no innerHTML), and the master's
// Content-Security-Policy allows no inline script.
'use strict';

const TOKEN_KEY = 'ember.console.token';
const POLL_MS = 1500;

const $ = (id) => document.getElementById(id);
let status = null;        // the latest GET /status answer
let previous = new Map(); // server name -> {t, requests, commands: Map(name -> count)} for rates
let rates = new Map();    // server name -> {total, commands: Map(name -> req/s)}
let pollTimer = null;
let polling = false;

function token() { return sessionStorage.getItem(TOKEN_KEY); }

/// An admin API call; throws on a network error, returns {status, body}.
async function api(method, path, body) {
  const headers = { Authorization: 'Bearer ' + (token() || '') };
  if (body !== undefined) headers['Content-Type'] = 'text/plain; charset=utf-8';
  const r = await fetch(path, { method, headers, body, cache: 'no-store', credentials: 'omit' });
  let json = null;
  try { json = await r.json(); } catch (e) { json = null; }
  if (r.status === 401 && token()) signOut('The master refused the token (401).');
  return { status: r.status, body: json };
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}
function cell(label, text, cls) {
  const td = el('td', text, cls);
  td.dataset.label = label;
  return td;
}
const ms = (us) => (us === undefined || us === null ? '' : (us / 1000).toFixed(us < 10000 ? 2 : 1));
const perSecond = (v) => (v === undefined ? '' : v < 10 ? v.toFixed(1) : Math.round(v).toString());

function activity(text, ok) {
  const li = el('li', new Date().toLocaleTimeString() + ' ' + text, ok ? 'ok' : 'bad');
  const list = $('activity');
  list.prepend(li);
  while (list.children.length > 50) list.lastChild.remove();
}

// --- sign-in -------------------------------------------------------------------------------

async function signIn(candidate) {
  sessionStorage.setItem(TOKEN_KEY, candidate);
  let r;
  try {
    r = await api('GET', '/status');
  } catch (e) {
    sessionStorage.removeItem(TOKEN_KEY);
    $('signin-error').textContent = 'The master does not answer: ' + e.message;
    return;
  }
  if (r.status !== 200) {
    sessionStorage.removeItem(TOKEN_KEY);
    $('token').value = '';
    $('signin-error').textContent = r.status === 401
      ? 'Wrong token: the master refused it.'
      : 'The master answered ' + r.status + ((r.body && r.body.error) ? ': ' + r.body.error : '');
    return;
  }
  $('signin-error').textContent = '';
  $('token').value = '';
  onStatus(r.body);
  route();
  schedulePoll();
}

function signOut(why) {
  sessionStorage.removeItem(TOKEN_KEY);
  status = null;
  previous = new Map();
  rates = new Map();
  if (pollTimer) clearTimeout(pollTimer);
  pollTimer = null;
  $('signin-error').textContent = why || '';
  route();
}

// --- polling -------------------------------------------------------------------------------

function schedulePoll() {
  if (pollTimer) clearTimeout(pollTimer);
  pollTimer = setTimeout(poll, POLL_MS);
}

// One poll at a time: the next is scheduled when this one has ended, so a slow master is
// never asked twice at once.
async function poll() {
  pollTimer = null;
  if (!token() || polling) return;
  polling = true;
  try {
    const r = await api('GET', '/status');
    if (r.status === 200) onStatus(r.body);
    else if (r.status !== 401) $('updated').textContent = 'status: HTTP ' + r.status;
  } catch (e) {
    $('updated').textContent = 'master unreachable (' + e.message + ')';
  } finally {
    polling = false;
  }
  if (token()) schedulePoll();
}

function onStatus(s) {
  const now = performance.now();
  status = s;
  for (const srv of s.servers) {
    const own = srv.server;
    if (!own) continue;
    const commands = new Map((own.commands || []).map((c) => [c.name + (c.forwarded ? ' (fwd)' : ''), c.count]));
    const before = previous.get(srv.name);
    if (before && now > before.t) {
      const dt = (now - before.t) / 1000;
      const per = new Map();
      for (const [name, count] of commands) per.set(name, Math.max(0, (count - (before.commands.get(name) || 0)) / dt));
      rates.set(srv.name, { total: Math.max(0, ((own.requests || 0) - before.requests) / dt), commands: per });
    }
    previous.set(srv.name, { t: now, requests: own.requests || 0, commands });
  }
  $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
  draw();
}

// --- drawing -------------------------------------------------------------------------------

function stateOf(srv) {
  const p = srv.process;
  const drain = srv.server && srv.server.drain;
  if (drain && drain !== 'serving') return { text: drain + ' (' + (srv.server.drained_players || 0) + ' players moved)', cls: 'warn' };
  if (p) {
    const cls = p.state === 'running' ? (srv.server ? 'ok' : 'warn') : p.state === 'stopped' ? 'warn' : 'bad';
    return { text: p.state + (p.state === 'running' && !srv.server ? ' (not linked)' : ''), cls };
  }
  return srv.server ? { text: 'linked (started by hand)', cls: 'ok' } : { text: 'not linked', cls: 'bad' };
}

function worstP99(own) {
  let worst = null;
  for (const c of (own && own.commands) || [])
    if (c.count > 0 && (!worst || c.p99_us > worst.p99_us)) worst = c;
  return worst ? ms(worst.p99_us) + ' ms ' + worst.name : '';
}

function actionButtons(name, drains) {
  const box = el('div', null, 'actions');
  const actions = [['reload', 'Reload'], ['reload-data', 'Data'], ['stop', 'Stop', 'danger']];
  if (drains) actions.splice(2, 0, ['drain', 'Drain', 'danger']);
  for (const [action, label, cls] of actions) {
    const b = el('button', label, cls);
    b.type = 'button';
    b.dataset.action = action;
    b.dataset.server = name;
    b.title = { reload: 'Reload logic', 'reload-data': 'Reload game data', drain: 'Move the players away from', stop: 'Stop this server' }[action] + ' on ' + name;
    box.append(b);
  }
  return box;
}

function drawCluster() {
  const body = $('servers').tBodies[0];
  const rows = [];
  let running = 0;
  for (const srv of status.servers) {
    const own = srv.server;
    const st = stateOf(srv);
    if (st.cls === 'ok') ++running;
    const tr = el('tr');
    tr.dataset.server = srv.name;
    const name = cell('Server', null, 'name');
    const a = el('a', srv.name);
    a.href = '#/server/' + encodeURIComponent(srv.name);
    name.append(a);
    const links = [srv.linked ? 'master' : 'no master link'];
    if (own && own.children !== undefined) links.push(own.children + ' linked here');
    if (own && own.gateways !== undefined) links.push(own.gateways + ' gateways');
    const rate = rates.get(srv.name);
    tr.append(
      name,
      cell('Type', own ? own.type : ''),
      cell('State', st.text, 'state ' + st.cls),
      cell('Restarts', srv.process ? srv.process.restarts : '', 'num'),
      cell('Sessions', own ? (own.sessions ?? own.remote_sessions ?? '') : '', 'num'),
      cell('Req/s', rate ? perSecond(rate.total) : '', 'num'),
      cell('Worst p99', worstP99(own)),
      cell('Links', links.join(', ')),
      cell('Dirty rows', own && own.dirty_rows !== undefined ? own.dirty_rows : '', 'num'));
    const act = cell('Actions');
    act.append(actionButtons(srv.name, !!(own && own.drain)));
    tr.append(act);
    rows.push(tr);
  }
  body.replaceChildren(...rows);
  $('summary').textContent = '— ' + running + ' of ' + status.servers.length + ' servers up';
}

function fact(dl, label, value) {
  if (value === undefined || value === null || value === '') return;
  const d = el('div');
  d.append(el('dt', label), el('dd', value));
  dl.append(d);
}

function drawServer(name) {
  $('server-name').textContent = name;
  for (const id of ['server-reload', 'server-reload-data', 'server-drain', 'server-stop']) $(id).dataset.server = name;
  const srv = status.servers.find((s) => s.name === name);
  $('server-drain').hidden = !(srv && srv.server && srv.server.drain);  // servers that can drain
  const dl = $('server-facts');
  dl.replaceChildren();
  const body = $('commands').tBodies[0];
  if (!srv) {
    fact(dl, 'State', 'no such server');
    body.replaceChildren();
    return;
  }
  const own = srv.server || {};
  const p = srv.process || {};
  const st = stateOf(srv);
  fact(dl, 'State', st.text);
  fact(dl, 'Type', own.type);
  fact(dl, 'Pid', own.pid ?? p.pid);
  fact(dl, 'Uptime', own.uptime_ms !== undefined ? Math.round(own.uptime_ms / 1000) + ' s' : undefined);
  fact(dl, 'Restarts', p.restarts);
  fact(dl, 'Last exit', p.last_exit);
  fact(dl, 'Module', own.module);
  fact(dl, 'Sessions', own.sessions);
  fact(dl, 'Remote sessions', own.remote_sessions);
  fact(dl, 'Requests', own.requests);
  fact(dl, 'Failed', own.failed);
  fact(dl, 'In flight', own.in_flight);
  fact(dl, 'Linked here', own.children);
  fact(dl, 'Players owned', own.players_owned);
  fact(dl, 'Drain', own.drain && own.drain !== 'serving' ? own.drain + ', ' + own.drained_players + ' players moved' +
                    (own.drain === 'drained' ? ' in ' + own.drain_ms + ' ms' : '') : undefined);
  fact(dl, 'Reloads', own.reloads);
  fact(dl, 'Reload failures', own.reload_failures);
  fact(dl, 'Dirty rows', own.dirty_rows);
  fact(dl, 'Oldest dirty', own.oldest_dirty_ms !== undefined ? own.oldest_dirty_ms + ' ms' : undefined);
  fact(dl, 'memcached queue', own.memcached_queue);
  fact(dl, 'Database queue', own.database_queue);
  const rate = rates.get(name);
  const rows = (own.commands || []).map((c) => {
    const key = c.name + (c.forwarded ? ' (fwd)' : '');
    const tr = el('tr');
    tr.append(
      cell('Command', key, 'name'), cell('Id', c.id, 'num'), cell('Count', c.count, 'num'),
      cell('Failed', c.failed, 'num'),
      cell('Req/s', rate ? perSecond(rate.commands.get(key)) : '', 'num'),
      cell('p50 ms', ms(c.p50_us), 'num'), cell('p90 ms', ms(c.p90_us), 'num'),
      cell('p99 ms', ms(c.p99_us), 'num'), cell('Max ms', ms(c.max_us), 'num'));
    return tr;
  });
  body.replaceChildren(...rows);
}

function draw() {
  if (!status) return;
  const hash = location.hash || '#/';
  if (hash.startsWith('#/server/')) drawServer(decodeURIComponent(hash.slice('#/server/'.length)));
  else if (hash === '#/') drawCluster();
}

function show(id) {
  for (const s of ['signin', 'cluster', 'server', 'players']) $(s).hidden = s !== id;
  const signedIn = id !== 'signin';
  $('nav').hidden = !signedIn;
  $('signout').hidden = !signedIn;
  $('activity-section').hidden = !signedIn;
  if (!signedIn) $('updated').textContent = '';
}

function route() {
  if (!token()) {
    show('signin');
    $('token').focus();
    return;
  }
  const hash = location.hash || '#/';
  if (hash.startsWith('#/server/')) show('server');
  else if (hash === '#/players') show('players');
  else show('cluster');
  draw();
}

// --- actions -------------------------------------------------------------------------------

const describe = (b) => (b && (b.error || JSON.stringify(b))) || '';

async function act(action, server, button) {
  const where = server ? server : 'every server';
  if (action === 'stop' && !confirm(server ? 'Stop ' + server + '? The master will not restart it.' : 'Stop the whole cluster?'))
    return;
  if (action === 'drain') {
    if (!confirm('Drain ' + server + '? Its players (a game server) or sessions (a client-facing server) move to the other servers of its type; it takes no new ones until it restarts.'))
      return;
    button.disabled = true;
    try {
      const r = await api('POST', '/drain?server=' + encodeURIComponent(server));
      activity('drain ' + server + ': ' + (r.status === 200 ? 'draining' : describe(r.body)), r.status === 200);
    } catch (e) {
      activity('drain ' + server + ': ' + e.message, false);
    } finally {
      button.disabled = false;
    }
    poll();
    return;
  }
  const q = new URLSearchParams();
  if (server) q.set('server', server);
  if (action === 'reload-data') q.set('data', '1');
  const path = (action === 'stop' ? '/stop' : '/reload') + (q.toString() ? '?' + q : '');
  button.disabled = true;
  try {
    const r = await api('POST', path);
    if (action === 'stop') {
      activity('stop ' + where + ': ' + (r.status === 200 ? 'stopping' : describe(r.body)), r.status === 200);
    } else {
      const what = action === 'reload' ? 'logic' : 'data';
      const results = (r.body && r.body.results) || [];
      if (!results.length) activity('reload ' + what + ' on ' + where + ': ' + describe(r.body), false);
      for (const x of results)
        activity('reload ' + what + ' on ' + x.name + ': ' + ((x.result && (x.result.message || x.result.error)) || '?'),
                 !!(x.result && x.result.ok));
    }
  } catch (e) {
    activity(action + ' on ' + where + ': ' + e.message, false);
  } finally {
    button.disabled = false;
  }
  poll();
}

async function findPlayer(user) {
  const body = $('player-servers').tBodies[0];
  body.replaceChildren();
  $('player-actions').hidden = true;
  $('player-result').textContent = 'searching…';
  let r;
  try {
    r = await api('GET', '/players?user=' + encodeURIComponent(user));
  } catch (e) {
    $('player-result').textContent = 'The master does not answer: ' + e.message;
    return;
  }
  if (r.status !== 200) {
    $('player-result').textContent = describe(r.body) || 'HTTP ' + r.status;
    return;
  }
  // A ban is of the account, wherever the player is (or is not): the accounts module's.
  $('player-ban').dataset.ban = user;
  $('player-actions').hidden = false;
  const holding = r.body.servers.filter((s) => s.session || s.owns);
  $('player-result').textContent = holding.length
    ? 'User ' + user + ' is on ' + holding.map((s) => s.name).join(', ') + '.'
    : 'No linked server holds user ' + user + ' (asked ' + r.body.servers.length + ').';
  body.replaceChildren(...holding.map((s) => {
    const tr = el('tr');
    tr.dataset.server = s.name;
    const kick = cell('');
    if (s.session) {
      const b = el('button', 'Kick', 'danger');
      b.type = 'button';
      b.dataset.kick = user;
      b.dataset.server = s.name;
      kick.append(b);
    }
    tr.append(cell('Server', s.name, 'name'),
              cell('Client session', s.session ? '#' + s.session_id + ' from ' + s.address : 'no'),
              cell('Owns the player', s.owns ? 'yes' : 'no'), kick);
    return tr;
  }));
}

async function kick(user, server, button) {
  const reason = prompt('Kick user ' + user + ' from ' + server + '. Reason (shown to the player):', 'kicked by an operator');
  if (reason === null) return;
  button.disabled = true;
  try {
    const r = await api('POST', '/kick?' + new URLSearchParams({ user, server }), reason);
    const results = (r.body && r.body.results) || [];
    if (!results.length) activity('kick ' + user + ': ' + describe(r.body), false);
    for (const x of results) activity('kick ' + user + ' on ' + x.name + ': ' + (x.result.message || x.result.error), !!x.result.ok);
  } catch (e) {
    activity('kick ' + user + ': ' + e.message, false);
  } finally {
    button.disabled = false;
  }
  findPlayer(user);
}

async function ban(user, button) {
  const reason = prompt('Ban account ' + user + '. Reason (shown to the player):', 'banned by an operator');
  if (reason === null) return;
  const minutes = prompt('Ban account ' + user + ' for how many minutes? (empty: until unbanned)', '');
  if (minutes === null) return;
  const q = new URLSearchParams({ user });
  if (minutes.trim() !== '') q.set('minutes', minutes.trim());
  button.disabled = true;
  try {
    const r = await api('POST', '/ban?' + q, reason);
    const ok = r.status === 200;
    activity('ban ' + user + (r.body && r.body.name ? ' on ' + r.body.name : '') + ': ' +
             (ok ? r.body.message : describe(r.body)), ok);
  } catch (e) {
    activity('ban ' + user + ': ' + e.message, false);
  } finally {
    button.disabled = false;
  }
}

// --- wiring --------------------------------------------------------------------------------

document.addEventListener('DOMContentLoaded', () => {
  $('signin-form').addEventListener('submit', (e) => {
    e.preventDefault();  // never a GET with the token in the query
    signIn($('token').value);
  });
  $('signout').addEventListener('click', () => signOut(''));
  $('player-form').addEventListener('submit', (e) => {
    e.preventDefault();
    findPlayer($('player-id').value.trim());
  });
  document.body.addEventListener('click', (e) => {
    const b = e.target.closest('button');
    if (!b) return;
    if (b.dataset.action) act(b.dataset.action, b.dataset.server || '', b);
    else if (b.dataset.kick) kick(b.dataset.kick, b.dataset.server, b);
    else if (b.dataset.ban) ban(b.dataset.ban, b);
  });
  window.addEventListener('hashchange', route);
  document.addEventListener('visibilitychange', () => { if (!document.hidden && token() && !pollTimer && !polling) poll(); });
  route();
  if (token()) poll();
});
