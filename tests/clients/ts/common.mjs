// What the TS client tests share: starting chat_server, failing with a reason, waiting with a
// deadline. The generated client is compiled into OUT (run.py) and imported from there.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function fail(why) {
  console.error(`FAIL: ${why}`);
  process.exit(1);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Waits until `cond()` holds, polling every 10 ms, or fails with `what` after `ms`. */
export async function until(cond, what, ms = 10000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Starts chat_server with a WebSocket port (and `origins`; `ports` to reuse a stopped
 * server's; `tls` {cert, key}: both ports speak TLS); resolves with {ws, tcp, stop, kill, pause, resume}. */
export async function startChatServer(exe, origins = [], ports = { tcp: 0, ws: 0 }, tls = null) {
  const dir = mkdtempSync(join(tmpdir(), 'ember-chat-'));
  const portFile = join(dir, 'ports');
  const args = ['--port', `${ports.tcp}`, '--port-file', portFile, '--websocket-port', `${ports.ws}`];
  if (tls) args.push('--tls-cert', tls.cert, '--tls-key', tls.key);
  for (const o of origins) args.push('--origin', o);
  const child = spawn(exe, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  let exited = false;
  child.on('exit', () => { exited = true; });
  await until(() => exited || (existsSync(portFile) && readFileSync(portFile, 'utf8').split('\n').length >= 3),
              'chat_server to write its ports');
  if (exited) fail('chat_server exited at start');
  const [tcp, ws] = readFileSync(portFile, 'utf8').trim().split('\n').map(Number);
  console.log(`chat_server pid ${child.pid}: native port ${tcp}, WebSocket port ${ws}`);
  process.on('exit', () => { if (!exited) child.kill('SIGKILL'); });
  return {
    tcp, ws,
    /** SIGSTOP / SIGCONT: a server that answers nothing for a while, for real. */
    pause() { child.kill('SIGSTOP'); },
    resume() { child.kill('SIGCONT'); },
    /** SIGKILL: the server is gone at once, its sessions with it. */
    async kill() {
      child.kill('SIGKILL');
      await until(() => exited, 'chat_server to die');
    },
    async stop() {
      child.kill('SIGTERM');
      await until(() => exited, 'chat_server to stop');
      if (child.exitCode !== 0) fail(`chat_server stopped with status ${child.exitCode} (signal ${child.signalCode})`);
    },
  };
}

/** A self-signed certificate for 127.0.0.1 made by the `openssl` command in `dir`, and the
 * base64 SHA-256 of its public key (what chromium's --ignore-certificate-errors-spki-list takes:
 * that one key is trusted, no other certificate error is ignored). */
export function makeCertificate(dir) {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
                           '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1',
                           '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const pub = execFileSync('openssl', ['x509', '-in', cert, '-noout', '-pubkey']);
  const der = execFileSync('openssl', ['pkey', '-pubin', '-outform', 'der'], { input: pub });
  const spki = createHash('sha256').update(der).digest('base64');
  return { cert, key, spki };
}
