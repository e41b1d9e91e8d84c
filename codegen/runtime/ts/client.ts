// ember's TypeScript client runtime: a session over WebSocket (PROTOCOL.md §1–§5 and §11) —
// the handshake, calls matched by sequence number, pushes, pings, acknowledgements, and resume
// after a lost connection with every missed reply and push delivered once, in order, as ember's
// C++ client (include/ember/net/impl/client.hpp) does. `ember-codegen --lang ts` copies this
// file next to NAME.ts, whose `Client` class gives it one typed method per command. No
// dependency beyond a WebSocket: the browser's, or in Node 20 npm's `ws` passed as an option.

import { CodecError, MessageInfo, codec, encodeUtf8, string as stringType, u16 } from "./ember.js";
import type { Codec } from "./ember.js";

// ---------------------------------------------------------------------------------------------
// Errors

/** What every failure of this runtime is. `code` names it for programs; `message` is for people. */
export class EmberError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = "EmberError";
    this.code = code;
  }
}

/** The statuses of PROTOCOL.md §5 that every server sends (the schema adds its game errors). */
export const status = {
  bad_request: 1,
  unknown_command: 2,
  internal_error: 3,
  overloaded: 4,
  rate_limited: 5,
  unavailable: 6,
  timeout: 7,
  shutting_down: 8,
  server_full: 9,
  handshake_required: 10,
  unsupported_version: 11,
  too_many_requests: 12,
  session_expired: 13,
  replaced: 14,
  outcome_unknown: 15,
} as const;
export type StatusName = keyof typeof status;

/** An error frame the server sent in place of a reply (PROTOCOL.md §5): `status` is its number,
 * `code` its name — one of the schema's `[[error]]`s (`E`), a status of §5, or "unknown". */
export class RemoteError<E extends string = string> extends EmberError {
  override readonly code: E | StatusName | "unknown";
  readonly status: number;
  constructor(code: E | StatusName | "unknown", statusValue: number, message: string) {
    super(code, `${code} (${statusValue}): ${message}`);
    this.name = "RemoteError";
    this.code = code;
    this.status = statusValue;
  }
}

/** No reply within the call's timeout (the request may still run on the server); with
 * `retries`, the last attempt's. */
export class TimeoutError extends EmberError {
  override readonly code = "timeout";
  constructor(message: string) {
    super("timeout", message);
    this.name = "TimeoutError";
  }
}

/** The session ended before the reply came: the client closed it, the server refused or ended
 * it, or it could not be resumed (`expired`: the server no longer had it; log in again). */
export class DisconnectedError extends EmberError {
  override readonly code = "disconnected";
  readonly expired: boolean;
  constructor(message: string, expired = false) {
    super("disconnected", message);
    this.name = "DisconnectedError";
    this.expired = expired;
  }
}

/** `connect()` failed: no connection, a refused upgrade (an `Origin` not allowed gets 403), no
 * server hello in time, or an error frame instead of one (`status`, 0 when there was none). */
export class ConnectError extends EmberError {
  override readonly code = "connect_failed";
  readonly status: number;
  constructor(message: string, statusValue = 0) {
    super("connect_failed", message);
    this.name = "ConnectError";
    this.status = statusValue;
  }
}

/** What a call ends with when it has no reply. A CodecError: the reply did not decode, or the
 * request could not be encoded (a value out of its field's range, a body over the limit). */
export type CallError<E extends string = string> = RemoteError<E> | TimeoutError | DisconnectedError | CodecError;

/** A call's outcome: the reply, or why there is none. Calls never reject for these. */
export type Result<T, E extends string = string> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: CallError<E> };

// ---------------------------------------------------------------------------------------------
// Options

/** Per-call settings. */
export interface CallOptions {
  /** Milliseconds to wait for the reply, every attempt included; default the client's
   * `timeoutMs`. */
  readonly timeoutMs?: number;
  /** How many more times to send the request, within `timeoutMs`, when an attempt ends with
   * `unavailable` (6: it was not run) or — only when the server announced that it takes
   * request ids — with `outcome_unknown` (15) or its own timeout. Every attempt carries the
   * same request id, so the server answers a retry of a request that ran with that run's reply
   * (PROTOCOL.md §1, docs/sessions.md "Retries"). Attempts wait 20 ms, doubling to 500 ms, in
   * between. Default 0; at most `maxRetries`. */
  readonly retries?: number;
  /** The request's idempotency id (a u64 other than 0n), for a caller that retries by itself
   * later, e.g. after a restart: take one from `newRequestId()`, keep it, and pass it again.
   * Default: none, unless `retries` is set (the client then picks one). */
  readonly requestId?: bigint;
}

/** The most retries a call may ask for (its deadline stops it sooner anyway). */
export const maxRetries = 1000;

export interface ClientOptions {
  /** `ws://host:port/` or `wss://host:port/` (any path). */
  readonly url: string;
  /** The WebSocket class: the browser's by default; in Node 20, npm's `ws` (`import WebSocket
   * from "ws"`). */
  readonly WebSocket?: new (url: string) => unknown;
  /** Requests and pushes in JSON rather than binary (PROTOCOL.md §8). */
  readonly json?: boolean;
  /** Default call timeout, ms (5 000). */
  readonly timeoutMs?: number;
  /** Connecting and the handshake, ms (5 000). */
  readonly connectTimeoutMs?: number;
  /** How often to ping, ms; 0 (default): a third of the idle timeout the server announces. */
  readonly pingIntervalMs?: number;
  /** Acknowledge what arrives and resume the session after a lost connection (default true). */
  readonly resume?: boolean;
  /** First and longest wait between reconnects while resuming, ms (50, 2 000). */
  readonly resumeBackoffMinMs?: number;
  readonly resumeBackoffMaxMs?: number;
  /** Largest reply or push body accepted, bytes (16 MiB). */
  readonly maxFrame?: number;
}

// ---------------------------------------------------------------------------------------------
// Frames (PROTOCOL.md §1)

const kind = { request: 1, response: 2, push: 3, error: 4, ping: 5, pong: 6, handshake: 7, ack: 8, bye: 9 } as const;
const headerSize = 16;
const jsonFlag = 0x01;
const requestIdFlag = 0x04; // the body starts with the request's 8-byte id (PROTOCOL.md §1)
const requestIdSize = 8;
const maxRequestId = (1n << 64n) - 1n;
const protocolVersion = 1;
const movedPushId = 0xff00; // a server that drains: resume at the address it names (PROTOCOL.md §3)
const movedFlag = 0x04; // the client hello's flag bit 2: this resume follows a `moved` push

interface Frame {
  readonly kind: number;
  readonly flags: number;
  readonly command: number;
  readonly seq: number;
  readonly body: Uint8Array;
}

function frameBytes(k: number, flags: number, command: number, seq: number, ack: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(headerSize + body.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, body.length);
  out[4] = k;
  out[5] = flags;
  v.setUint16(6, command);
  v.setUint32(8, seq);
  v.setUint32(12, ack);
  out.set(body, headerSize);
  return out;
}

const errorBody: Codec<{ status: number; message: string }> = codec(
  new MessageInfo("error_body", () => [
    [1, "status", u16],
    [2, "message", stringType],
  ]),
);

/** The WebSocket members this runtime uses: the browser's and npm ws's have them all. */
interface Socket {
  binaryType: string;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
}

type Timer = ReturnType<typeof setTimeout>;

interface PendingCall {
  readonly frame: Uint8Array; // header and body; the ack field is rewritten when sent again
  readonly command: string;
  readonly finish: (f: Frame | CallError<string>) => void;
  timer: Timer | undefined;
}

/** A command as a generated module describes it (`commands.login`). */
export interface CommandInfo<Req, Rep> {
  readonly id: number;
  readonly name: string;
  readonly request: Codec<Req>;
  readonly reply: Codec<Rep>;
}
/** A push as a generated module describes it (`pushes.chat_message`). */
export interface PushInfo<M> {
  readonly id: number;
  readonly name: string;
  readonly message: Codec<M>;
}

/**
 * A session with an ember server over WebSocket. Generated `Client` classes extend it with one
 * method per command and `on<Push>` per push; `E` is the schema's error table.
 *
 * Calls may overlap; each resolves with a Result, never waits past its timeout, and survives a
 * lost connection: the client reconnects with backoff and resumes the session within the grace
 * period the server announced (PROTOCOL.md §3), then every reply and push it missed arrives
 * once, in order, and the requests the server had not received leave again.
 */
export class EmberClient<E extends Readonly<Record<string, { readonly code: number; readonly message: string }>>> {
  private readonly _opts: Required<Omit<ClientOptions, "WebSocket">>;
  private readonly _WebSocket: new (url: string) => unknown;
  private _url: string; // options.url, until a `moved` push names another server
  private _moved = false; // told to resume at another server, which takes the session over
  private readonly _errorNames = new Map<number, string>();
  private _socket: Socket | undefined;
  private _open = false; // handshaken on the current socket
  private _ended = false;
  private _resuming = false;
  private _everConnected = false;
  private _nextSeq = 1;
  private readonly _calls = new Map<number, PendingCall>(); // in seq order: Maps keep insertion order
  private _received = 0;
  private _acked = 0;
  private _unackedBytes = 0;
  private _ackPosted = false;
  private _lastPushSeq = 0;
  private _token: Uint8Array | undefined;
  private _sessionId = 0n;
  private _idleTimeoutMs = 0;
  private _serverMaxFrame = 0;
  private _serverRequestIds = false; // the server hello's flag bit 1: it takes request ids
  private _requestIds = randomU64(); // the last id given: a random start, then counting
  private _graceMs = 0;
  private _resumable = false;
  private _resumes = 0;
  private _pingTimer: Timer | undefined;
  private _pingSeq = 0;
  private _out: Uint8Array[] = [];
  private _flushPosted = false;
  private _abortOpen: (() => void) | undefined; // ends a connection attempt at once
  private readonly _pushes = new Map<number, Array<(body: Uint8Array, json: boolean) => void>>();
  private readonly _onResumed: Array<() => void> = [];
  private readonly _onClosed: Array<(why: DisconnectedError) => void> = [];
  private readonly _onError: Array<(e: Error) => void> = [];

  constructor(options: ClientOptions, errors: E) {
    this._opts = {
      url: options.url,
      json: options.json ?? false,
      timeoutMs: options.timeoutMs ?? 5000,
      connectTimeoutMs: options.connectTimeoutMs ?? 5000,
      pingIntervalMs: options.pingIntervalMs ?? 0,
      resume: options.resume ?? true,
      resumeBackoffMinMs: options.resumeBackoffMinMs ?? 50,
      resumeBackoffMaxMs: options.resumeBackoffMaxMs ?? 2000,
      maxFrame: options.maxFrame ?? 16 << 20,
    };
    const ctor = options.WebSocket ?? (globalThis as { WebSocket?: new (url: string) => unknown }).WebSocket;
    if (ctor === undefined) {
      throw new EmberError("no_websocket", "no WebSocket class: pass options.WebSocket (in Node 20: import WebSocket from \"ws\")");
    }
    this._WebSocket = ctor;
    this._url = options.url;
    for (const [name, s] of Object.entries(status)) this._errorNames.set(s, name);
    for (const [name, e] of Object.entries(errors)) this._errorNames.set(e.code, name);
  }

  /** The session's id on the server (for logs and support); 0n before `connect()`. */
  get sessionId(): bigint {
    return this._sessionId;
  }
  /** True while a connection is open and handshaken (false while resuming). */
  get connected(): boolean {
    return this._open;
  }
  /** How many times the session was resumed after a lost connection. */
  get resumes(): number {
    return this._resumes;
  }
  /** Where the session connects: `options.url`, or the server a draining one moved it to. */
  get url(): string {
    return this._url;
  }
  /** The WebSocket of the current connection (for tests and diagnostics). */
  get socket(): unknown {
    return this._socket;
  }

  /** Opens the connection and handshakes (a new session). Rejects with a ConnectError. */
  async connect(): Promise<void> {
    if (this._ended) throw new ConnectError("this client was closed; make a new one");
    if (this._everConnected) throw new ConnectError("already connected");
    await this._openSocket(false);
    this._everConnected = true;
  }

  /** Ends the session (the server is told: no resume); calls still waiting end with a
   * DisconnectedError. */
  close(): void {
    if (this._ended) return;
    if (this._socket !== undefined && this._open) {
      this._queue(frameBytes(kind.bye, 0, 0, 0, this._received, new Uint8Array(0)));
      this._flush();
    }
    this._end(new DisconnectedError("the client closed the session"));
  }

  /** Calls a command with its request; the Promise resolves with the reply or a CallError.
   * With `options.retries` or `options.requestId` the request carries an idempotency id, and
   * the call is repeated as `CallOptions` says. */
  async call<Req, Rep>(cmd: CommandInfo<Req, Rep>, request: Req, options?: CallOptions): Promise<Result<Rep, keyof E & string>> {
    if (this._ended || !this._everConnected) {
      const why = this._ended ? "the session has ended" : "connect() first";
      return { ok: false, error: new DisconnectedError(`${cmd.name}: ${why}`) };
    }
    const retries = options?.retries ?? 0;
    const givenId = options?.requestId ?? 0n;
    if (!Number.isInteger(retries) || retries < 0 || retries > maxRetries) {
      return { ok: false, error: new CodecError("value_out_of_range", `${cmd.name}: retries ${retries} is not an integer from 0 to ${maxRetries}`) };
    }
    if (typeof givenId !== "bigint" || givenId < 0n || givenId > maxRequestId) {
      return { ok: false, error: new CodecError("value_out_of_range", `${cmd.name}: requestId ${String(givenId)} is not a u64`) };
    }
    const json = this._opts.json;
    let body: Uint8Array;
    try {
      // a value no field of the schema can hold (300 in a u8) is refused here, as in C++
      body = json ? encodeUtf8(cmd.request.encodeJson(request)) : cmd.request.encode(request);
    } catch (e) {
      const error = e instanceof CodecError ? e : new CodecError("value_out_of_range", `${cmd.name}: ${String(e)}`);
      return { ok: false, error };
    }
    const id = givenId !== 0n ? givenId : retries > 0 ? this.newRequestId() : 0n;
    const limit = this._serverMaxFrame || this._opts.maxFrame;
    const size = body.length + (id !== 0n ? requestIdSize : 0);
    if (size > limit) {
      return { ok: false, error: new CodecError("value_out_of_range", `${cmd.name}: a request of ${size} bytes passes the server's limit of ${limit}`) };
    }
    const ms = options?.timeoutMs ?? this._opts.timeoutMs;
    // The common call: no id, one attempt.
    if (id === 0n) return this._reply(cmd, await this._attempt(cmd, json, body, 0n, ms));
    const deadline = Date.now() + ms;
    let pause = 20;
    let mayHaveRun = false; // an attempt ended without saying whether it ran
    for (let attempt = 0; ; ++attempt) {
      const left = deadline - Date.now();
      const outcome: Frame | CallError<string> =
        left > 0 ? await this._attempt(cmd, json, body, id, left) : new TimeoutError(`${cmd.name}: no reply within ${ms} ms`);
      const notRun = "body" in outcome && outcome.kind === kind.error && decodeRefusal(outcome).status === status.unavailable;
      mayHaveRun = mayHaveRun || !notRun;
      if (attempt >= retries || !this._mayRetry(outcome) || Date.now() + pause >= deadline) {
        const r = this._reply(cmd, outcome);
        // "Not run" must not hide an earlier attempt that may have run (as the C++ client).
        if (!notRun || !mayHaveRun || r.ok) return r;
        return { ok: false, error: new RemoteError("outcome_unknown", status.outcome_unknown,
                                                   `an earlier attempt may have run; the last one was not run: ${r.error.message}`) };
      }
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(pause * 2, 500);
      if (this._ended) return this._reply(cmd, new DisconnectedError(`${cmd.name}: the session has ended`));
    }
  }

  /** A new idempotency id, unique among this client's requests (a random start, then
   * counting), for `CallOptions.requestId`. */
  newRequestId(): bigint {
    this._requestIds = this._requestIds === maxRequestId ? 1n : this._requestIds + 1n;
    return this._requestIds;
  }

  // `unavailable` was not run: always safe again. An unknown outcome (the server's, or this
  // call's own timeout) only when the server remembers request ids.
  private _mayRetry(outcome: Frame | CallError<string>): boolean {
    if (outcome instanceof TimeoutError) return this._serverRequestIds;
    if (!("body" in outcome) || outcome.kind !== kind.error) return false;
    const st = decodeRefusal(outcome).status;
    return st === status.unavailable || (st === status.outcome_unknown && this._serverRequestIds);
  }

  // One attempt: sends the request (`id` 0n: none) and waits for its reply frame, at most `ms`.
  private _attempt(cmd: { readonly name: string; readonly id: number }, json: boolean, body: Uint8Array, id: bigint, ms: number): Promise<Frame | CallError<string>> {
    const seq = this._nextSeq;
    this._nextSeq = this._nextSeq === 0xffffffff ? 1 : this._nextSeq + 1;
    // A server that predates request ids is sent none (and `_mayRetry` keeps retries safe there).
    const withId = id !== 0n && this._serverRequestIds;
    let frame: Uint8Array;
    if (withId) {
      const idAndBody = new Uint8Array(requestIdSize + body.length);
      new DataView(idAndBody.buffer).setBigUint64(0, id);
      idAndBody.set(body, requestIdSize);
      frame = frameBytes(kind.request, (json ? jsonFlag : 0) | requestIdFlag, cmd.id, seq, 0, idAndBody);
    } else {
      frame = frameBytes(kind.request, json ? jsonFlag : 0, cmd.id, seq, 0, body);
    }
    return new Promise((resolve) => {
      const pending: PendingCall = {
        frame,
        command: cmd.name,
        timer: undefined,
        finish: (f) => {
          if (pending.timer !== undefined) clearTimeout(pending.timer);
          this._calls.delete(seq);
          resolve(f);
        },
      };
      pending.timer = setTimeout(() => pending.finish(new TimeoutError(`${cmd.name}: no reply within ${ms} ms`)), ms);
      this._calls.set(seq, pending);
      // While resuming it waits in _calls and leaves after the resume (_resend).
      if (this._open) this._sendRequest(frame);
    });
  }

  // The result of a call from its reply frame, or why there is none.
  private _reply<Rep>(cmd: { readonly reply: Codec<Rep> }, f: Frame | CallError<string>): Result<Rep, keyof E & string> {
    if (!("body" in f)) return { ok: false, error: f as CallError<keyof E & string> };
    const isJson = (f.flags & jsonFlag) !== 0;
    try {
      if (f.kind === kind.error) {
        const e = isJson ? errorBody.decodeJson(f.body) : errorBody.decode(f.body);
        const name = (this._errorNames.get(e.status) ?? "unknown") as keyof E & string;
        return { ok: false, error: new RemoteError(name, e.status, e.message) };
      }
      return { ok: true, value: isJson ? cmd.reply.decodeJson(f.body) : cmd.reply.decode(f.body) };
    } catch (e) {
      return { ok: false, error: e instanceof CodecError ? e : new CodecError("malformed_body", String(e)) };
    }
  }

  /** Calls `handler` with every push of this kind; returns a function that stops it. */
  onPush<M>(push: PushInfo<M>, handler: (message: M) => void): () => void {
    const raw = (body: Uint8Array, json: boolean): void => {
      let m: M;
      try {
        m = json ? push.message.decodeJson(body) : push.message.decode(body);
      } catch (e) {
        this._report(new EmberError("bad_push", `push ${push.name}: ${e instanceof Error ? e.message : String(e)}`));
        return;
      }
      handler(m);
    };
    let list = this._pushes.get(push.id);
    if (list === undefined) this._pushes.set(push.id, (list = []));
    list.push(raw);
    return () => {
      const l = this._pushes.get(push.id);
      const i = l === undefined ? -1 : l.indexOf(raw);
      if (i >= 0) l!.splice(i, 1);
    };
  }

  /** Hears each resume after a lost connection. */
  onResumed(handler: () => void): void {
    this._onResumed.push(handler);
  }
  /** Hears the end of the session: `close()`, the server ending it, or a resume that failed
   * (`expired`: log in again on a new client). */
  onClosed(handler: (why: DisconnectedError) => void): void {
    this._onClosed.push(handler);
  }
  /** Hears what the client drops without a call to blame: a push that does not decode, a frame
   * the protocol does not allow (default: console.warn). */
  onError(handler: (e: Error) => void): void {
    this._onError.push(handler);
  }

  // -------------------------------------------------------------------------------------------

  // Opens a socket and handshakes; resolves once the server hello arrived.
  private _openSocket(resume: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      let opened = false;
      let refusal: { status: number; message: string } | undefined;
      const url = this._url;
      const ws = new this._WebSocket(url) as Socket;
      ws.binaryType = "arraybuffer";
      this._socket = ws;
      const fail = (why: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        this._abortOpen = undefined;
        this._detach(ws);
        const st = refusal?.status ?? 0;
        reject(new ConnectError(refusal ? `${url}: refused: ${refusal.message} (status ${st})` : `${url}: ${why}`, st));
      };
      const deadline = setTimeout(() => fail(`no server hello within ${this._opts.connectTimeoutMs} ms`), this._opts.connectTimeoutMs);
      this._abortOpen = () => fail("the client was closed");
      ws.onopen = () => {
        opened = true;
        const hello = new Uint8Array(resume ? 40 : 4);
        const v = new DataView(hello.buffer);
        v.setUint16(0, protocolVersion);
        hello[2] = this._opts.json ? 1 : 0;
        hello[3] = (resume ? 1 : 0) | (this._opts.resume ? 2 : 0) | (resume && this._moved ? movedFlag : 0);
        if (resume) {
          hello.set(this._token!, 4);
          v.setUint32(36, this._received);
        }
        ws.send(frameBytes(kind.handshake, 0, 0, 0, 0, hello));
      };
      ws.onerror = (ev) => {
        // npm ws says why (`Unexpected server response: 403`); browsers never do.
        const e = ev as { message?: unknown; error?: { message?: unknown } } | null;
        const detail = e?.message ?? e?.error?.message;
        if (typeof detail === "string") return fail(detail);
        fail(opened ? "the WebSocket failed"
                    : "could not open the WebSocket: nothing listens there, or the server refused the upgrade (a page whose Origin it does not allow gets 403)");
      };
      ws.onclose = (ev) => {
        if (!settled) return fail(`the connection closed (${ev.code}${ev.reason ? " " + ev.reason : ""})`);
        this._lost(ws, `the connection closed (${ev.code}${ev.reason ? " " + ev.reason : ""})`);
      };
      ws.onmessage = (ev) => {
        if (this._socket !== ws) return;
        const data = ev.data;
        if (!(data instanceof ArrayBuffer)) return this._protocolFault(ws, "a text WebSocket message");
        const bytes = new Uint8Array(data);
        for (let at = 0; at < bytes.length; ) {
          if (bytes.length - at < headerSize) return this._protocolFault(ws, "a frame cut short inside its message");
          const v = new DataView(data, at);
          const length = v.getUint32(0);
          if (length > this._opts.maxFrame) return this._protocolFault(ws, `a frame of ${length} bytes passes maxFrame`);
          if (bytes.length - at - headerSize < length) return this._protocolFault(ws, "a frame cut short inside its message");
          const f: Frame = {
            kind: bytes[at + 4]!,
            flags: bytes[at + 5]!,
            command: v.getUint16(6),
            seq: v.getUint32(8),
            body: bytes.subarray(at + headerSize, at + headerSize + length),
          };
          at += headerSize + length;
          if (!settled) {
            if (f.kind === kind.error && f.seq === 0) {
              refusal = decodeRefusal(f);
              continue; // the server closes the connection next
            }
            if (f.kind !== kind.handshake) return fail(`a frame of kind ${f.kind} before the server hello`);
            const h = this._onHello(f.body);
            if (typeof h === "string") return fail(h);
            if (resume && !h) return fail("the server started a new session instead of resuming");
            settled = true;
            clearTimeout(deadline);
            this._abortOpen = undefined;
            this._open = true;
            this._startPings(ws);
            resolve();
            continue;
          }
          if (this._socket !== ws || !this._onFrame(ws, f)) return;
        }
      };
    });
  }

  // The server hello: the session's parameters; true if it resumed. A string says what is wrong.
  private _onHello(body: Uint8Array): boolean | string {
    if (body.length < 60) return `a server hello of ${body.length} bytes (60 expected)`;
    const v = new DataView(body.buffer, body.byteOffset, body.length);
    const resumed = (body[3]! & 1) !== 0;
    if (!resumed) {
      this._received = this._acked = 0;
      this._lastPushSeq = 0;
    }
    this._sessionId = v.getBigUint64(4);
    this._idleTimeoutMs = v.getUint32(12);
    this._serverMaxFrame = v.getUint32(16);
    this._serverRequestIds = (body[3]! & 2) !== 0;
    const lastRequestSeq = v.getUint32(20);
    this._token = body.slice(24, 56);
    this._graceMs = v.getUint32(56);
    this._resumable = this._opts.resume && this._graceMs > 0;
    if (resumed) {
      this._moved = false; // arrived where it was told to move
      // Tells the server at once that the new token arrived (the old one is then spent), then
      // sends again, in order, the requests it never received.
      this._queue(frameBytes(kind.ack, 0, 0, 0, this._received, new Uint8Array(0)));
      this._acked = this._received;
      for (const [seq, c] of this._calls) if (seq > lastRequestSeq) this._sendRequest(c.frame);
      this._flushSoon();
    }
    return resumed;
  }

  // A frame after the handshake; false when the connection is gone.
  private _onFrame(ws: Socket, f: Frame): boolean {
    switch (f.kind) {
      case kind.response:
      case kind.error: {
        if (f.seq === 0) {
          // About the session itself (replaced by a newer login, the server stopping): it ends.
          const r = decodeRefusal(f);
          const name = this._errorNames.get(r.status) ?? "unknown";
          this._end(new DisconnectedError(`the server ended the session: ${name} (${r.status}): ${r.message}`, r.status === status.session_expired));
          return false;
        }
        this._countReceived(f.body.length);
        this._calls.get(f.seq)?.finish(f); // none: its call timed out
        return this._socket === ws;
      }
      case kind.push: {
        this._countReceived(f.body.length);
        if (f.seq <= this._lastPushSeq) return true; // had it already
        this._lastPushSeq = f.seq;
        if (f.command === movedPushId) return this._onMoved(ws, f.body);
        for (const h of this._pushes.get(f.command) ?? []) {
          try {
            h(f.body, (f.flags & jsonFlag) !== 0);
          } catch (e) {
            // a handler's bug must not cost the session the frames after this one
            this._report(e instanceof Error ? e : new EmberError("push_handler", String(e)));
          }
        }
        return this._socket === ws;
      }
      case kind.ping:
        this._queue(frameBytes(kind.pong, 0, 0, f.seq, this._received, new Uint8Array(0)));
        this._acked = this._received;
        this._flushSoon();
        return true;
      case kind.pong:
        return true;
      default:
        this._protocolFault(ws, `a frame of kind ${f.kind} from the server`);
        return false;
    }
  }

  // The server drains: resume the session at the address it names, on this URL's scheme and
  // path (PROTOCOL.md §3, "Moving to another server"). The new server takes the session over
  // and resends what this connection had not acknowledged.
  private _onMoved(ws: Socket, body: Uint8Array): boolean {
    if (body.length < 3 || body.length > 2 + 255 || !this._resumable) return true; // nothing to resume: it stays until closed
    const port = (body[0]! << 8) | body[1]!;
    const host = new TextDecoder().decode(body.subarray(2));
    let next: URL;
    try {
      next = new URL(this._url);
      next.hostname = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
      next.port = String(port);
    } catch {
      this._report(new EmberError("protocol_error", `the server moved the session to an address that is no URL: ${host}:${port}`));
      return true;
    }
    this._url = next.toString();
    this._moved = true;
    // Leaves as a lost connection would (after the frames of this message were read): the
    // resume goes to the new URL.
    Promise.resolve().then(() => {
      if (this._socket === ws) this._lost(ws, `the server moved the session to ${this._url}`);
    });
    return this._socket === ws;
  }

  // Acknowledges what arrived when no request has carried the count for a while, so the
  // server's outbox stays small even for a client that only listens (as ember's C++ client).
  private _countReceived(bodyBytes: number): void {
    this._received = (this._received + 1) >>> 0;
    this._unackedBytes += bodyBytes + headerSize;
    if (!this._resumable || this._ackPosted) return;
    if (this._received - this._acked < 16 && this._unackedBytes < 16 * 1024) return;
    this._ackPosted = true;
    Promise.resolve().then(() => {
      this._ackPosted = false;
      if (!this._open || (this._received - this._acked < 16 && this._unackedBytes < 16 * 1024)) return;
      this._queue(frameBytes(kind.ack, 0, 0, 0, this._received, new Uint8Array(0)));
      this._acked = this._received;
      this._unackedBytes = 0;
      this._flush();
    });
  }

  private _sendRequest(frame: Uint8Array): void {
    new DataView(frame.buffer, frame.byteOffset).setUint32(12, this._received);
    this._acked = this._received;
    this._unackedBytes = 0;
    this._queue(frame);
    this._flushSoon();
  }

  private _queue(frame: Uint8Array): void {
    this._out.push(frame);
  }
  // Frames queued in one turn leave together, as one binary message (PROTOCOL.md §11).
  private _flushSoon(): void {
    if (this._flushPosted) return;
    this._flushPosted = true;
    Promise.resolve().then(() => this._flush());
  }
  private _flush(): void {
    this._flushPosted = false;
    const ws = this._socket;
    if (this._out.length === 0 || ws === undefined || !this._open) return;
    const frames = this._out;
    this._out = [];
    let message = frames[0]!;
    if (frames.length > 1) {
      message = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
      let at = 0;
      for (const f of frames) {
        message.set(f, at);
        at += f.length;
      }
    }
    try {
      ws.send(message);
    } catch {
      // The socket is closing; its onclose starts the resume, which sends the requests again.
    }
  }

  private _startPings(ws: Socket): void {
    if (this._pingTimer !== undefined) clearInterval(this._pingTimer);
    const every = this._opts.pingIntervalMs || Math.floor(this._idleTimeoutMs / 3);
    if (every <= 0) return;
    this._pingTimer = setInterval(() => {
      if (this._socket !== ws || !this._open) return;
      this._pingSeq = (this._pingSeq + 1) >>> 0;
      this._queue(frameBytes(kind.ping, 0, 0, this._pingSeq, this._received, new Uint8Array(0)));
      this._acked = this._received;
      this._flush();
    }, every);
  }

  private _protocolFault(ws: Socket, why: string): void {
    this._report(new EmberError("protocol_error", `the server sent ${why}; closing the connection`));
    this._detach(ws);
    this._lost(ws, why);
  }

  private _report(e: Error): void {
    if (this._onError.length === 0) console.warn(`ember client: ${e.message}`);
    for (const h of this._onError) h(e);
  }

  // Forgets a socket: its events no longer reach the client.
  private _detach(ws: Socket): void {
    ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
    try {
      ws.close();
    } catch {
      // already closed
    }
    if (this._socket === ws) {
      this._socket = undefined;
      this._open = false;
      this._out = [];
      if (this._pingTimer !== undefined) clearInterval(this._pingTimer);
      this._pingTimer = undefined;
    }
  }

  // The connection of an established session is gone: resume it, or end it.
  private _lost(ws: Socket, why: string): void {
    if (this._socket !== ws && this._socket !== undefined) return;
    this._detach(ws);
    if (this._ended) return;
    if (!this._resumable) return this._end(new DisconnectedError(`the connection was lost: ${why}`));
    if (!this._resuming) void this._resume(why);
  }

  // Reconnects with backoff until the session is back, the server says it expired, or the
  // grace period the server announced has passed.
  private async _resume(why: string): Promise<void> {
    this._resuming = true;
    const giveUp = Date.now() + this._graceMs;
    let backoff = this._opts.resumeBackoffMinMs;
    let last = why;
    for (let delay = 0; !this._ended; delay = backoff) {
      if (delay > 0) {
        await new Promise((r) => setTimeout(r, delay));
        backoff = Math.min(backoff * 2, this._opts.resumeBackoffMaxMs);
      }
      if (this._ended) return;
      if (Date.now() >= giveUp) break;
      try {
        await this._openSocket(true);
        this._resuming = false;
        this._resumes++;
        for (const h of this._onResumed) h();
        return;
      } catch (e) {
        last = e instanceof Error ? e.message : String(e);
        if (e instanceof ConnectError && e.status === status.session_expired) {
          return this._end(new DisconnectedError(`the session could not be resumed: ${last}`, true));
        }
      }
    }
    this._resuming = false;
    if (!this._ended) this._end(new DisconnectedError(`the session could not be resumed within ${this._graceMs} ms: ${last}`, true));
  }

  private _end(why: DisconnectedError): void {
    if (this._ended) return;
    this._ended = true;
    this._abortOpen?.();
    if (this._socket !== undefined) this._detach(this._socket);
    for (const c of [...this._calls.values()]) c.finish(new DisconnectedError(`${c.command}: ${why.message}`, why.expired));
    for (const h of this._onClosed) h(why);
  }
}

// A random u64 other than 0: where a client's request ids start, so that two clients of one
// player (or one client before and after a restart) do not pick the same ones.
function randomU64(): bigint {
  const words = new Uint32Array(2);
  const crypto = (globalThis as { crypto?: { getRandomValues(a: Uint32Array): Uint32Array } }).crypto;
  if (crypto !== undefined) crypto.getRandomValues(words);
  else for (let i = 0; i < 2; ++i) words[i] = Math.floor(Math.random() * 0x100000000);
  const v = (BigInt(words[0]!) << 32n) | BigInt(words[1]!);
  return v === 0n ? 1n : v;
}

function decodeRefusal(f: Frame): { status: number; message: string } {
  try {
    return (f.flags & jsonFlag) !== 0 ? errorBody.decodeJson(f.body) : errorBody.decode(f.body);
  } catch {
    return { status: 0, message: "an error frame that does not decode" };
  }
}
