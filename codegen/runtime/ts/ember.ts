// ember's TypeScript runtime: the binary and JSON body encodings of PROTOCOL.md §8, byte for
// byte as ember's C++ codecs (include/ember/codec/) write them, and refusing what they refuse.
// `ember-codegen --lang ts` copies this file next to the NAME.ts it generates; a generated
// module describes each message with a table (`new MessageInfo(...)`) and this file walks it,
// as the C++ codec walks its generated tables. No dependency beyond what browsers and Node provide
// (TextEncoder, TextDecoder, DataView, BigInt).

/** The `ember::errc` values the C++ decoders report (PROTOCOL.md §8, "What decoders refuse"). */
export type CodecErrorCode =
  | "truncated_body"
  | "malformed_body"
  | "wrong_wire_type"
  | "value_out_of_range"
  | "nesting_too_deep";

/** What a decoder throws on a body the C++ decoder refuses (and an encoder on a value that no
 * C++ field could hold, such as 300 in a u8): `code` is the C++ error's name. */
export class CodecError extends Error {
  readonly code: CodecErrorCode;
  constructor(code: CodecErrorCode, detail: string) {
    super(`${code}: ${detail}`);
    this.name = "CodecError";
    this.code = code;
  }
}

/** The bytes of a `bytes` field. */
export type Bytes = Uint8Array;
/** A `map<string, T>` field. Encoders write its entries in ascending byte-wise key order. */
export type StrMap<T> = Map<string, T>;

// ---------------------------------------------------------------------------------------------
// Field types and message tables (what generated modules declare)

/** An enum: its names by value (values the schema does not name stay numbers). */
export interface EnumInfo {
  readonly name: string;
  readonly byValue: ReadonlyMap<number, string>;
  readonly byName: ReadonlyMap<string, number>;
}

export type Type =
  | { readonly k: "bool" }
  | { readonly k: "sint"; readonly min: number; readonly max: number } // i8, i16, i32
  | { readonly k: "uint"; readonly max: number } // u8, u16, u32
  | { readonly k: "i64" }
  | { readonly k: "u64" }
  | { readonly k: "f32" }
  | { readonly k: "f64" }
  | { readonly k: "string" }
  | { readonly k: "bytes" }
  | { readonly k: "enum"; readonly e: EnumInfo }
  | { readonly k: "struct"; readonly m: MessageInfo }
  | { readonly k: "list"; readonly of: Type }
  | { readonly k: "map"; readonly of: Type }
  | { readonly k: "optional"; readonly of: Type };

export const bool: Type = { k: "bool" };
export const i8: Type = { k: "sint", min: -128, max: 127 };
export const i16: Type = { k: "sint", min: -32768, max: 32767 };
export const i32: Type = { k: "sint", min: -2147483648, max: 2147483647 };
export const i64: Type = { k: "i64" };
export const u8: Type = { k: "uint", max: 255 };
export const u16: Type = { k: "uint", max: 65535 };
export const u32: Type = { k: "uint", max: 4294967295 };
export const u64: Type = { k: "u64" };
export const f32: Type = { k: "f32" };
export const f64: Type = { k: "f64" };
export const string: Type = { k: "string" };
export const bytes: Type = { k: "bytes" };
export function enumOf(e: EnumInfo): Type {
  return { k: "enum", e };
}
export function structOf(m: MessageInfo): Type {
  return { k: "struct", m };
}
export function list(of: Type): Type {
  return { k: "list", of };
}
export function map(of: Type): Type {
  return { k: "map", of };
}
export function optional(of: Type): Type {
  return { k: "optional", of };
}

/** One field: tag, name (the JSON key and the property), type. */
export type FieldInfo = readonly [tag: number, name: string, type: Type];

/** A message's table. `fields` is given as a function so that tables may refer to each other
 * (and to themselves, through lists) in any order; it is called once, on first use. */
export class MessageInfo {
  readonly name: string;
  private fieldsOf: () => readonly FieldInfo[];
  private cache: readonly FieldInfo[] | undefined;
  private byName: Map<string, number> | undefined;
  private byTag: Map<number, number> | undefined;
  private names: string[] = [];
  constructor(name: string, fields: () => readonly FieldInfo[]) {
    this.name = name;
    this.fieldsOf = fields;
  }
  /** Fields in tag order (the order they are encoded in). */
  get fields(): readonly FieldInfo[] {
    if (this.cache === undefined) {
      this.cache = [...this.fieldsOf()].sort((a, b) => a[0] - b[0]);
      this.byName = new Map(this.cache.map((f, i) => [f[1], i]));
      this.byTag = new Map(this.cache.map((f, i) => [f[0], i]));
      this.names = this.cache.map((f) => `${this.name}.${f[1]}`);
    }
    return this.cache;
  }
  /** The index in `fields` of the field of tag `tag`, or -1. */
  indexOfTag(tag: number): number {
    void this.fields;
    return this.byTag!.get(tag) ?? -1;
  }
  /** The index in `fields` of the field named `name`, or -1. */
  indexOfName(name: string): number {
    void this.fields;
    return this.byName!.get(name) ?? -1;
  }
  /** `message.field` of field `i`, for error messages. */
  where(i: number): string {
    return this.names[i]!;
  }
  /** A message with every field at its default. */
  create(): Record<string, unknown> {
    const m: Record<string, unknown> = {};
    for (const [, name, t] of this.fields) {
      if (t.k !== "optional") m[name] = defaultOf(t);
    }
    return m;
  }
}

/** The value a field holds when the body does not carry it. */
export function defaultOf(t: Type): unknown {
  switch (t.k) {
    case "bool":
      return false;
    case "sint":
    case "uint":
    case "f32":
    case "f64":
    case "enum":
      return 0;
    case "i64":
    case "u64":
      return 0n;
    case "string":
      return "";
    case "bytes":
      return new Uint8Array(0);
    case "struct":
      return t.m.create();
    case "list":
      return [];
    case "map":
      return new Map();
    case "optional":
      return undefined;
  }
}

/** What a generated module exports for each message, typed. */
export interface Codec<T> {
  readonly info: MessageInfo;
  /** A message with every field at its default, then the fields of `init`. */
  create(init?: Partial<T>): T;
  /** The binary body (PROTOCOL.md §8, "Binary"). */
  encode(m: T): Uint8Array;
  /** Reads a binary body; throws CodecError on what ember's C++ decoder refuses. */
  decode(body: Uint8Array): T;
  /** The JSON body, as ember's C++ encoder writes it. */
  encodeJson(m: T): string;
  /** Reads a JSON body (text, or its UTF-8 bytes); throws CodecError as `decode`. */
  decodeJson(body: string | Uint8Array): T;
}

export function codec<T>(info: MessageInfo): Codec<T> {
  return {
    info,
    create(init?: Partial<T>): T {
      const m = info.create();
      if (init !== undefined) {
        for (const [k, v] of Object.entries(init)) {
          if (v !== undefined) m[k] = v;
        }
      }
      return m as T;
    },
    encode(m: T): Uint8Array {
      const w = new BinaryWriter();
      encodeMessage(w, m as Record<string, unknown>, info);
      return w.finish();
    },
    decode(body: Uint8Array): T {
      const m = info.create();
      decodeMessage(new BinaryReader(body, 0, body.length), m, info, 0);
      return m as T;
    },
    encodeJson(m: T): string {
      const out: string[] = [];
      writeJsonMessage(out, m as Record<string, unknown>, info);
      return out.join("");
    },
    decodeJson(body: string | Uint8Array): T {
      const root = parseJson(typeof body === "string" ? body : decodeUtf8(body, "JSON body"));
      if (root.t !== "object") throw new CodecError("malformed_body", "the JSON body is not an object");
      const m = info.create();
      readJsonMessage(root, m, info, 0);
      return m as T;
    },
  };
}

/** Builds an enum's table from its names and values. */
export function enumInfo(name: string, values: Readonly<Record<string, number>>): EnumInfo {
  const byName = new Map<string, number>(Object.entries(values));
  const byValue = new Map<number, string>();
  for (const [n, v] of byName) byValue.set(v, n);
  return { name, byValue, byName };
}

/** ember's limit on structs nested in a message (`ember::codec::max_depth`). */
export const maxDepth = 64;
/** simdjson's limit on nested JSON arrays and objects. */
export const maxJsonDepth = 1024;

// ---------------------------------------------------------------------------------------------
// UTF-8

const utf8Encoder = new TextEncoder();
// fatal: invalid UTF-8 is refused; ignoreBOM: a leading U+FEFF is a character like any other.
const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export function encodeUtf8(s: string): Uint8Array {
  return utf8Encoder.encode(s);
}
export function decodeUtf8(b: Uint8Array, what: string): string {
  try {
    return utf8Decoder.decode(b);
  } catch {
    throw new CodecError("malformed_body", `${what} is not valid UTF-8`);
  }
}

/** Byte-wise order of the UTF-8 encodings (std::map<std::string, T>'s order). */
function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  const x = encodeUtf8(a);
  const y = encodeUtf8(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; ++i) {
    if (x[i] !== y[i]) return x[i]! - y[i]!;
  }
  return x.length - y.length;
}

function sortedEntries<T>(m: ReadonlyMap<string, T>): [string, T][] {
  return [...m.entries()].sort((a, b) => compareUtf8(a[0], b[0]));
}

// ---------------------------------------------------------------------------------------------
// Checks of values before encoding: what no C++ field could hold is refused, not truncated.

function checkInt(v: unknown, min: number, max: number, at: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new CodecError("value_out_of_range", `${at}: ${String(v)} is not an integer in ${min}..${max}`);
  }
  return v;
}

const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

function checkBig(v: unknown, min: bigint, max: bigint, at: string): bigint {
  if (typeof v !== "bigint" || v < min || v > max) {
    throw new CodecError("value_out_of_range", `${at}: ${String(v)} is not a bigint in ${min}..${max}`);
  }
  return v;
}

function checkEnum(v: unknown, at: string): number {
  return checkInt(v, -2147483648, 2147483647, at);
}

// ---------------------------------------------------------------------------------------------
// Binary writer

const WT_VARINT = 0;
const WT_FIXED64 = 1;
const WT_LEN = 2;
const WT_FIXED32 = 5;

export class BinaryWriter {
  private buf = new Uint8Array(64);
  private view = new DataView(this.buf.buffer);
  pos = 0;

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
  byte(b: number): void {
    this.room(1);
    this.buf[this.pos++] = b;
  }
  /** A varint of an unsigned value below 2^32. */
  varint32(v: number): void {
    this.room(5);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[this.pos++] = v;
  }
  /** A varint of the 64-bit value hi * 2^32 + lo (both unsigned 32-bit). */
  varint64(lo: number, hi: number): void {
    if (hi === 0) return this.varint32(lo);
    this.room(10);
    // 64 bits in groups of 7: the first four groups come from lo alone.
    for (let i = 0; i < 4; ++i) {
      this.buf[this.pos++] = (lo & 0x7f) | 0x80;
      lo >>>= 7;
    }
    // lo has 4 bits left; the fifth group takes 3 of hi.
    let v = lo | ((hi & 0x7) << 4);
    hi >>>= 3;
    while (hi !== 0) {
      this.buf[this.pos++] = v | 0x80;
      v = hi & 0x7f;
      hi >>>= 7;
    }
    this.buf[this.pos++] = v;
  }
  varintBig(v: bigint): void {
    this.varint64(Number(v & 0xffffffffn), Number(v >> 32n));
  }
  key(tag: number, wt: number): void {
    // tag < 2^29: tag << 3 fits in 32 bits; multiply to stay unsigned.
    this.varint32(tag * 8 + wt);
  }
  f32(v: number): void {
    this.room(4);
    this.view.setFloat32(this.pos, v, true);
    this.pos += 4;
  }
  f64(v: number): void {
    this.room(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }
  raw(b: Uint8Array): void {
    this.varint32(b.length);
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  /** Starts a length-delimited value: one byte kept for its length. */
  begin(): number {
    this.byte(0);
    return this.pos;
  }
  /** Ends the value begun at `start`: writes its length before it. */
  end(start: number): void {
    const n = this.pos - start;
    if (n < 0x80) {
      this.buf[start - 1] = n;
      return;
    }
    let size = 1;
    for (let x = n; x >= 0x80; x >>>= 7) ++size;
    this.room(size - 1);
    this.buf.copyWithin(start - 1 + size, start, this.pos);
    const after = this.pos + size - 1;
    this.pos = start - 1;
    this.varint32(n);
    this.pos = after;
  }
}

function zigzag32(v: number): number {
  return ((v << 1) ^ (v >> 31)) >>> 0;
}
function zigzag64(v: bigint): bigint {
  return BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
}

/** Writes `v` (of scalar, enum or struct type `t`) as field `tag`, even when it is the
 * default (the C++ `put_value`: list elements, map entries, optionals). */
function putValue(w: BinaryWriter, tag: number, v: unknown, t: Type, at: string): void {
  switch (t.k) {
    case "bool":
      if (typeof v !== "boolean") throw new CodecError("value_out_of_range", `${at}: not a boolean`);
      w.key(tag, WT_VARINT);
      w.byte(v ? 1 : 0);
      return;
    case "sint":
      w.key(tag, WT_VARINT);
      w.varint32(zigzag32(checkInt(v, t.min, t.max, at)));
      return;
    case "uint":
      w.key(tag, WT_VARINT);
      w.varint32(checkInt(v, 0, t.max, at));
      return;
    case "i64":
      w.key(tag, WT_VARINT);
      w.varintBig(zigzag64(checkBig(v, I64_MIN, I64_MAX, at)));
      return;
    case "u64":
      w.key(tag, WT_VARINT);
      w.varintBig(checkBig(v, 0n, U64_MAX, at));
      return;
    case "enum": {
      const e = checkEnum(v, at);
      w.key(tag, WT_VARINT);
      // sign-extended to 64 bits, as protobuf writes enums
      w.varint64(e >>> 0, e < 0 ? 0xffffffff : 0);
      return;
    }
    case "f32":
      if (typeof v !== "number") throw new CodecError("value_out_of_range", `${at}: not a number`);
      w.key(tag, WT_FIXED32);
      w.f32(v);
      return;
    case "f64":
      if (typeof v !== "number") throw new CodecError("value_out_of_range", `${at}: not a number`);
      w.key(tag, WT_FIXED64);
      w.f64(v);
      return;
    case "string":
      if (typeof v !== "string") throw new CodecError("value_out_of_range", `${at}: not a string`);
      w.key(tag, WT_LEN);
      w.raw(encodeUtf8(v));
      return;
    case "bytes":
      if (!(v instanceof Uint8Array)) throw new CodecError("value_out_of_range", `${at}: not a Uint8Array`);
      w.key(tag, WT_LEN);
      w.raw(v);
      return;
    case "struct": {
      w.key(tag, WT_LEN);
      const start = w.begin();
      encodeMessage(w, v as Record<string, unknown>, t.m);
      w.end(start);
      return;
    }
    default:
      throw new Error(`ember: ${at}: a ${t.k} inside a container`);
  }
}

/** A packed list's values, back to back. */
function putPacked(w: BinaryWriter, tag: number, v: readonly unknown[], t: Type, at: string): void {
  if (v.length === 0) return;
  w.key(tag, WT_LEN);
  const start = w.begin();
  for (const x of v) {
    switch (t.k) {
      case "bool":
        if (typeof x !== "boolean") throw new CodecError("value_out_of_range", `${at}: not a boolean`);
        w.byte(x ? 1 : 0);
        break;
      case "sint":
        w.varint32(zigzag32(checkInt(x, t.min, t.max, at)));
        break;
      case "uint":
        w.varint32(checkInt(x, 0, t.max, at));
        break;
      case "i64":
        w.varintBig(zigzag64(checkBig(x, I64_MIN, I64_MAX, at)));
        break;
      case "u64":
        w.varintBig(checkBig(x, 0n, U64_MAX, at));
        break;
      case "enum": {
        const e = checkEnum(x, at);
        w.varint64(e >>> 0, e < 0 ? 0xffffffff : 0);
        break;
      }
      case "f32":
        if (typeof x !== "number") throw new CodecError("value_out_of_range", `${at}: not a number`);
        w.f32(x);
        break;
      case "f64":
        if (typeof x !== "number") throw new CodecError("value_out_of_range", `${at}: not a number`);
        w.f64(x);
        break;
      default:
        throw new Error(`ember: ${at}: ${t.k} is not packed`);
    }
  }
  w.end(start);
}

function isPacked(t: Type): boolean {
  return t.k === "bool" || t.k === "sint" || t.k === "uint" || t.k === "i64" || t.k === "u64" ||
    t.k === "enum" || t.k === "f32" || t.k === "f64";
}

/** Whether a plain (not optional) field holds its default, which is not written. */
function isDefault(v: unknown, t: Type): boolean {
  switch (t.k) {
    case "bool":
      return v === false;
    case "sint":
    case "uint":
    case "enum":
      return v === 0;
    case "i64":
    case "u64":
      return v === 0n;
    case "f32":
    case "f64":
      return Object.is(v, 0); // +0.0 only: -0.0 travels
    case "string":
      return v === "";
    case "bytes":
      return v instanceof Uint8Array && v.length === 0;
    default:
      return false;
  }
}

export function encodeMessage(w: BinaryWriter, m: Record<string, unknown>, info: MessageInfo): void {
  const fields = info.fields;
  for (let i = 0; i < fields.length; ++i) {
    const [tag, name, t] = fields[i]!;
    const v = m[name];
    const at = info.where(i);
    switch (t.k) {
      case "optional":
        if (v !== undefined && v !== null) putValue(w, tag, v, t.of, at);
        break;
      case "struct": {
        // a struct whose own encoding is empty is not written
        w.key(tag, WT_LEN);
        const keyAt = w.pos;
        const start = w.begin();
        encodeMessage(w, (v ?? {}) as Record<string, unknown>, t.m);
        if (w.pos === start) {
          w.pos = keyAt - keyLength(tag);
        } else {
          w.end(start);
        }
        break;
      }
      case "list": {
        const list = (v ?? []) as readonly unknown[];
        if (!Array.isArray(list)) throw new CodecError("value_out_of_range", `${at}: not an array`);
        if (isPacked(t.of)) {
          putPacked(w, tag, list, t.of, at);
        } else {
          for (const x of list) putValue(w, tag, x, t.of, at);
        }
        break;
      }
      case "map": {
        const map = (v ?? new Map()) as ReadonlyMap<string, unknown>;
        if (!(map instanceof Map)) throw new CodecError("value_out_of_range", `${at}: not a Map`);
        for (const [key, value] of sortedEntries(map)) {
          w.key(tag, WT_LEN);
          const start = w.begin();
          putValue(w, 1, key, string, at);
          putValue(w, 2, value, t.of, at);
          w.end(start);
        }
        break;
      }
      default:
        if (v === undefined) break; // a field left out is its default
        if (!isDefault(v, t)) putValue(w, tag, v, t, at);
    }
  }
}

function keyLength(tag: number): number {
  let n = 1;
  for (let k = tag * 8; k >= 0x80; k = Math.floor(k / 128)) ++n;
  return n;
}

// ---------------------------------------------------------------------------------------------
// Binary reader

export class BinaryReader {
  private readonly buf: Uint8Array;
  private readonly view: DataView;
  pos: number;
  readonly end: number;
  /** The last varint read, as two unsigned 32-bit halves. */
  lo = 0;
  hi = 0;
  constructor(buf: Uint8Array, pos: number, end: number) {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = pos;
    this.end = end;
  }
  atEnd(): boolean {
    return this.pos === this.end;
  }
  remaining(): number {
    return this.end - this.pos;
  }
  /** Reads a varint into lo/hi: at most 10 bytes, the tenth 0 or 1. */
  varint(): void {
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; ++i) {
      if (this.pos === this.end) throw new CodecError("truncated_body", "the body ends inside a varint");
      const b = this.buf[this.pos++]!;
      if (i === 9 && b > 1) throw new CodecError("malformed_body", "a varint beyond 64 bits");
      const bits = b & 0x7f;
      const shift = 7 * i;
      if (shift < 28) {
        lo |= bits << shift;
      } else if (shift === 28) {
        lo |= (bits & 0xf) << 28;
        hi |= bits >>> 4;
      } else {
        hi |= bits << (shift - 32);
      }
      if (b < 0x80) {
        this.lo = lo >>> 0;
        this.hi = hi >>> 0;
        return;
      }
    }
    throw new CodecError("malformed_body", "a varint longer than 10 bytes");
  }
  big(): bigint {
    return (BigInt(this.hi) << 32n) | BigInt(this.lo);
  }
  /** A field key: sets `tag` and returns the wire type. */
  key(): [tag: number, wt: number] {
    this.varint();
    const wt = this.lo & 7;
    const tag = this.lo >>> 3;
    if (this.hi !== 0 || tag === 0 || !(wt === 0 || wt === 1 || wt === 2 || wt === 5)) {
      throw new CodecError("malformed_body", this.hi !== 0 ? "a field key beyond 32 bits"
        : tag === 0 ? "tag 0" : `wire type ${wt}`);
    }
    return [tag, wt];
  }
  /** A length, checked against what follows. */
  length(): number {
    this.varint();
    if (this.hi !== 0 || this.lo > this.remaining()) {
      throw new CodecError("truncated_body", "a length beyond the end of the body");
    }
    return this.lo;
  }
  advance(n: number): void {
    if (this.remaining() < n) throw new CodecError("truncated_body", "the body ends inside a value");
    this.pos += n;
  }
  skip(wt: number): void {
    switch (wt) {
      case WT_VARINT:
        this.varint();
        return;
      case WT_FIXED64:
        this.advance(8);
        return;
      case WT_FIXED32:
        this.advance(4);
        return;
      default: {
        const n = this.length(); // before reading pos: length() moves it past the varint
        this.pos += n;
      }
    }
  }
  f32(): number {
    if (this.remaining() < 4) throw new CodecError("truncated_body", "the body ends inside an f32");
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }
  f64(): number {
    if (this.remaining() < 8) throw new CodecError("truncated_body", "the body ends inside an f64");
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }
  slice(n: number): Uint8Array {
    const s = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  sub(n: number): BinaryReader {
    const r = new BinaryReader(this.buf, this.pos, this.pos + n);
    this.pos += n;
    return r;
  }
}

function wireTypeOf(t: Type): number {
  switch (t.k) {
    case "f32":
      return WT_FIXED32;
    case "f64":
      return WT_FIXED64;
    case "string":
    case "bytes":
    case "struct":
      return WT_LEN;
    default:
      return WT_VARINT;
  }
}

function outOfRange(at: string, what: string): never {
  throw new CodecError("value_out_of_range", `${at}: ${what}`);
}

/** Reads one value of scalar or enum type `t` whose wire type has been checked. */
function getScalar(r: BinaryReader, t: Type, at: string): unknown {
  switch (t.k) {
    case "bool":
      r.varint();
      if (r.hi !== 0 || r.lo > 1) outOfRange(at, "a bool other than 0 or 1");
      return r.lo === 1;
    case "uint":
      r.varint();
      if (r.hi !== 0 || r.lo > t.max) outOfRange(at, `${r.big()} does not fit in 0..${t.max}`);
      return r.lo;
    case "sint": {
      r.varint();
      // zigzag of a value in int32 has no high half
      if (r.hi !== 0) outOfRange(at, "the value does not fit");
      const v = (r.lo >>> 1) ^ -(r.lo & 1);
      if (v < t.min || v > t.max) outOfRange(at, `${v} does not fit in ${t.min}..${t.max}`);
      return v;
    }
    case "u64":
      r.varint();
      return r.big();
    case "i64": {
      r.varint();
      const u = r.big();
      return BigInt.asIntN(64, (u >> 1n) ^ -(u & 1n));
    }
    case "enum":
      r.varint();
      if (r.hi === 0 && r.lo <= 0x7fffffff) return r.lo;
      if (r.hi === 0xffffffff && r.lo >= 0x80000000) return r.lo | 0;
      return outOfRange(at, "an enum value outside int32");
    case "f32":
      return r.f32();
    case "f64":
      return r.f64();
    default:
      throw new Error(`ember: ${at}: ${t.k} is not a scalar`);
  }
}

/** Reads one value of type `t` (not a container) at wire type `wt`; `into` is the struct to
 * merge into, if any. */
function getValue(r: BinaryReader, wt: number, t: Type, at: string, depth: number, into?: unknown): unknown {
  // as ember's binary_reader::enter: the depth is checked before the wire type
  if (t.k === "struct" && depth >= maxDepth) {
    throw new CodecError("nesting_too_deep", `${at}: structs nested more than ${maxDepth} deep`);
  }
  if (wt !== wireTypeOf(t)) throw new CodecError("wrong_wire_type", `${at}: wire type ${wt}`);
  switch (t.k) {
    case "string":
      return decodeUtf8(r.slice(r.length()), `${at}: the string`);
    case "bytes":
      return r.slice(r.length()).slice(); // a copy: the body's buffer may be reused
    case "struct": {
      const sub = r.sub(r.length());
      const m = (into ?? t.m.create()) as Record<string, unknown>;
      decodeMessage(sub, m, t.m, depth + 1);
      return m;
    }
    default:
      return getScalar(r, t, at);
  }
}

function getPacked(r: BinaryReader, wt: number, t: Type, out: unknown[], at: string): void {
  const element = wireTypeOf(t);
  if (wt === element) {
    out.push(getScalar(r, t, at));
    return;
  }
  if (wt !== WT_LEN) throw new CodecError("wrong_wire_type", `${at}: wire type ${wt}`);
  const packed = r.sub(r.length());
  if (element !== WT_VARINT) {
    const size = element === WT_FIXED32 ? 4 : 8;
    if (packed.remaining() % size !== 0) {
      throw new CodecError("malformed_body", `${at}: a packed list of ${size}-byte values of ${packed.remaining()} bytes`);
    }
  }
  while (!packed.atEnd()) {
    try {
      out.push(getScalar(packed, t, at));
    } catch (e) {
      // a packed run that ends inside a value is malformed, not a truncated body
      if (e instanceof CodecError && e.code === "truncated_body") {
        throw new CodecError("malformed_body", `${at}: a packed list ends inside a value`);
      }
      throw e;
    }
  }
}

export function decodeMessage(r: BinaryReader, m: Record<string, unknown>, info: MessageInfo, depth: number): void {
  while (!r.atEnd()) {
    const [tag, wt] = r.key();
    const i = info.indexOfTag(tag);
    if (i < 0) {
      r.skip(wt);
      continue;
    }
    const [, name, t] = info.fields[i]!;
    const at = info.where(i);
    switch (t.k) {
      case "optional":
        m[name] = getValue(r, wt, t.of, at, depth, t.of.k === "struct" ? m[name] : undefined);
        break;
      case "struct":
        m[name] = getValue(r, wt, t, at, depth, m[name]);
        break;
      case "list": {
        const list = m[name] as unknown[];
        if (isPacked(t.of)) {
          getPacked(r, wt, t.of, list, at);
        } else {
          list.push(getValue(r, wt, t.of, at, depth));
        }
        break;
      }
      case "map": {
        if (wt !== WT_LEN) throw new CodecError("wrong_wire_type", `${at}: wire type ${wt}`);
        const e = r.sub(r.length());
        let key = "";
        let value: unknown = defaultOf(t.of);
        while (!e.atEnd()) {
          const [etag, ewt] = e.key();
          if (etag === 1) {
            key = getValue(e, ewt, string, at, depth) as string;
          } else if (etag === 2) {
            value = getValue(e, ewt, t.of, at, depth, t.of.k === "struct" ? value : undefined);
          } else {
            e.skip(ewt);
          }
        }
        (m[name] as Map<string, unknown>).set(key, value);
        break;
      }
      default:
        m[name] = getValue(r, wt, t, at, depth);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// JSON writer

/** A string as ember's JSON writer quotes it: `"` and `\` escaped, control characters as
 * \n, \t, \r, \b, \f or \u00xx, everything else as it is. */
export function jsonString(s: string): string {
  let out = '"';
  let run = 0;
  for (let i = 0; i < s.length; ++i) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c !== 0x22 && c !== 0x5c) continue;
    out += s.slice(run, i);
    run = i + 1;
    switch (c) {
      case 0x22: out += '\\"'; break;
      case 0x5c: out += "\\\\"; break;
      case 0x0a: out += "\\n"; break;
      case 0x0d: out += "\\r"; break;
      case 0x09: out += "\\t"; break;
      case 0x08: out += "\\b"; break;
      case 0x0c: out += "\\f"; break;
      default: out += "\\u00" + (c < 0x10 ? "0" : "") + c.toString(16);
    }
  }
  return out + s.slice(run) + '"';
}

/** The decimal digits and exponent of `v` > 0 (shortest round trip: `v.toExponential()`). */
function digitsOf(text: string): [digits: string, exp: number] {
  const e = text.indexOf("e");
  const mantissa = text.slice(0, e).replace(".", "");
  return [mantissa, Number(text.slice(e + 1))];
}

/** Lays out digits as fmt 9's `{}` does: fixed notation for exponents -4 … 15, else
 * `d.ddde±XX`. */
function layout(negative: boolean, digits: string, exp: number): string {
  let s: string;
  if (exp < -4 || exp >= 16) {
    const e = Math.abs(exp);
    s = digits[0]! + (digits.length > 1 ? "." + digits.slice(1) : "") + "e" + (exp < 0 ? "-" : "+") +
      (e < 10 ? "0" : "") + e;
  } else if (exp < 0) {
    s = "0." + "0".repeat(-exp - 1) + digits;
  } else if (digits.length <= exp + 1) {
    s = digits + "0".repeat(exp + 1 - digits.length);
  } else {
    s = digits.slice(0, exp + 1) + "." + digits.slice(exp + 1);
  }
  return negative ? "-" + s : s;
}

/** An f64 as ember writes it: the shortest text that reads back to the same double. */
export function formatF64(v: number): string {
  if (Number.isNaN(v)) return '"NaN"';
  if (v === Infinity) return '"Infinity"';
  if (v === -Infinity) return '"-Infinity"';
  if (v === 0) return Object.is(v, -0) ? "-0.0" : "0";
  const [digits, exp] = digitsOf(Math.abs(v).toExponential());
  return layout(v < 0, digits, exp);
}

/** An f32 as ember writes it: the shortest text that reads back to the same float. */
export function formatF32(v: number): string {
  v = Math.fround(v);
  if (Number.isNaN(v)) return '"NaN"';
  if (v === Infinity) return '"Infinity"';
  if (v === -Infinity) return '"-Infinity"';
  if (v === 0) return Object.is(v, -0) ? "-0.0" : "0";
  const a = Math.abs(v);
  for (let p = 1; p <= 9; ++p) {
    const text = a.toExponential(p - 1);
    if (Math.fround(Number(text)) === a) {
      let [digits, exp] = digitsOf(text);
      // toExponential rounds a tie up; fmt (Dragonbox) takes the even one of the two nearest
      if (Number(digits[digits.length - 1]) % 2 === 1 && isTie(a, p)) {
        const down = truncated(a, p);
        if (Math.fround(Number(down)) === a) [digits, exp] = digitsOf(down);
      }
      return layout(v < 0, digits.replace(/0+$/, "") || "0", exp);
    }
  }
  throw new Error("ember: unreachable: a float needs at most 9 digits");
}

/** The exact significant digits of `a` > 0 (a float: at most 100 needed for a tie to show). */
function exactDigits(a: number): [digits: string, exp: number] {
  const [digits, exp] = digitsOf(a.toExponential(99));
  return [digits.replace(/0+$/, ""), exp];
}

/** Whether `a` lies exactly halfway between two decimals of `p` significant digits. */
function isTie(a: number, p: number): boolean {
  const [digits] = exactDigits(a);
  return digits.length === p + 1 && digits[p] === "5";
}

/** `a` cut to `p` significant digits, as toExponential writes it. */
function truncated(a: number, p: number): string {
  const [digits, exp] = exactDigits(a);
  const d = digits.slice(0, p).padEnd(p, "0");
  return `${d[0]}${p > 1 ? "." + d.slice(1) : ""}e${exp < 0 ? "-" : "+"}${Math.abs(exp)}`;
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

export function base64Encode(b: Uint8Array): string {
  let out = "";
  let i = 0;
  for (; i + 2 < b.length; i += 3) {
    const n = (b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!;
    out += B64[n >> 18]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]! + B64[n & 63]!;
  }
  if (i + 1 === b.length) {
    const n = b[i]! << 16;
    out += B64[n >> 18]! + B64[(n >> 12) & 63]! + "==";
  } else if (i + 2 === b.length) {
    const n = (b[i]! << 16) | (b[i + 1]! << 8);
    out += B64[n >> 18]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]! + "=";
  }
  return out;
}

/** As ember's `base64_decode`: padding optional, leftover bits must be zero. */
export function base64Decode(s: string): Uint8Array | undefined {
  if (s.length % 4 === 0 && s.length > 0) {
    if (s.endsWith("=")) s = s.slice(0, -1);
    if (s.endsWith("=")) s = s.slice(0, -1);
  }
  if (s.length % 4 === 1) return undefined;
  const out = new Uint8Array(Math.floor((s.length * 6) / 8));
  let acc = 0;
  let bits = 0;
  let n = 0;
  for (let i = 0; i < s.length; ++i) {
    const v = B64.indexOf(s[i]!);
    if (v < 0) return undefined;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (acc >> bits) & 0xff;
    }
  }
  if ((acc & ((1 << bits) - 1)) !== 0) return undefined;
  return out.subarray(0, n);
}

function writeJsonValue(out: string[], v: unknown, t: Type, at: string): void {
  switch (t.k) {
    case "bool":
      if (typeof v !== "boolean") throw new CodecError("value_out_of_range", `${at}: not a boolean`);
      out.push(v ? "true" : "false");
      return;
    case "sint":
      out.push(String(checkInt(v, t.min, t.max, at)));
      return;
    case "uint":
      out.push(String(checkInt(v, 0, t.max, at)));
      return;
    case "i64":
      out.push(checkBig(v, I64_MIN, I64_MAX, at).toString());
      return;
    case "u64":
      out.push(checkBig(v, 0n, U64_MAX, at).toString());
      return;
    case "f32":
      if (typeof v !== "number") throw new CodecError("value_out_of_range", `${at}: not a number`);
      out.push(formatF32(v));
      return;
    case "f64":
      if (typeof v !== "number") throw new CodecError("value_out_of_range", `${at}: not a number`);
      out.push(formatF64(v));
      return;
    case "string":
      if (typeof v !== "string") throw new CodecError("value_out_of_range", `${at}: not a string`);
      out.push(jsonString(v));
      return;
    case "bytes":
      if (!(v instanceof Uint8Array)) throw new CodecError("value_out_of_range", `${at}: not a Uint8Array`);
      out.push('"' + base64Encode(v) + '"');
      return;
    case "enum": {
      const e = checkEnum(v, at);
      const name = t.e.byValue.get(e);
      out.push(name === undefined ? String(e) : jsonString(name));
      return;
    }
    case "struct":
      writeJsonMessage(out, (v ?? {}) as Record<string, unknown>, t.m);
      return;
    case "list": {
      const list = (v ?? []) as readonly unknown[];
      if (!Array.isArray(list)) throw new CodecError("value_out_of_range", `${at}: not an array`);
      out.push("[");
      list.forEach((x, i) => {
        if (i) out.push(",");
        writeJsonValue(out, x, t.of, at);
      });
      out.push("]");
      return;
    }
    case "map": {
      const map = (v ?? new Map()) as ReadonlyMap<string, unknown>;
      if (!(map instanceof Map)) throw new CodecError("value_out_of_range", `${at}: not a Map`);
      out.push("{");
      sortedEntries(map).forEach(([key, value], i) => {
        if (i) out.push(",");
        out.push(jsonString(key), ":");
        writeJsonValue(out, value, t.of, at);
      });
      out.push("}");
      return;
    }
    case "optional":
      writeJsonValue(out, v, t.of, at);
  }
}

export function writeJsonMessage(out: string[], m: Record<string, unknown>, info: MessageInfo): void {
  out.push("{");
  let first = true;
  const fields = info.fields;
  for (let i = 0; i < fields.length; ++i) {
    const [, name, t] = fields[i]!;
    let v = m[name];
    if (t.k === "optional") {
      if (v === undefined || v === null) continue;
    } else if (v === undefined) {
      v = defaultOf(t); // a field left out is its default, which JSON writes
    }
    if (!first) out.push(",");
    first = false;
    out.push('"', name, '":');
    writeJsonValue(out, v, t, info.where(i));
  }
  out.push("}");
}

// ---------------------------------------------------------------------------------------------
// JSON reader: a strict RFC 8259 parser (as simdjson is) that keeps numbers as their text, so
// 64-bit integers keep every digit.

export type JsonValue =
  | { readonly t: "null" }
  | { readonly t: "bool"; readonly v: boolean }
  | { readonly t: "number"; readonly text: string; readonly integer: boolean }
  | { readonly t: "string"; readonly v: string }
  | { readonly t: "array"; readonly v: JsonValue[] }
  | { readonly t: "object"; readonly v: [string, JsonValue][] };

function malformed(what: string): never {
  throw new CodecError("malformed_body", what);
}

export function parseJson(text: string): JsonValue {
  let i = 0;
  const n = text.length;
  const ws = (): void => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      ++i;
    }
  };
  const str = (): string => {
    ++i; // the opening quote
    let out = "";
    let run = i;
    for (;;) {
      if (i >= n) malformed("not JSON: an unterminated string");
      const c = text.charCodeAt(i);
      if (c === 0x22) break;
      if (c < 0x20) malformed("not JSON: a control character in a string");
      if (c !== 0x5c) {
        ++i;
        continue;
      }
      out += text.slice(run, i);
      const e = text[i + 1];
      i += 2;
      switch (e) {
        case '"': out += '"'; break;
        case "\\": out += "\\"; break;
        case "/": out += "/"; break;
        case "b": out += "\b"; break;
        case "f": out += "\f"; break;
        case "n": out += "\n"; break;
        case "r": out += "\r"; break;
        case "t": out += "\t"; break;
        case "u": {
          const hex4 = (): number => {
            const h = text.slice(i, i + 4);
            if (!/^[0-9a-fA-F]{4}$/.test(h)) malformed("not JSON: a bad \\u escape");
            i += 4;
            return parseInt(h, 16);
          };
          const u = hex4();
          if (u >= 0xd800 && u < 0xdc00) {
            if (text[i] !== "\\" || text[i + 1] !== "u") malformed("not JSON: a lone surrogate");
            i += 2;
            const low = hex4();
            if (low < 0xdc00 || low > 0xdfff) malformed("not JSON: a lone surrogate");
            out += String.fromCharCode(u, low);
          } else if (u >= 0xdc00 && u <= 0xdfff) {
            malformed("not JSON: a lone surrogate");
          } else {
            out += String.fromCharCode(u);
          }
          break;
        }
        default:
          malformed("not JSON: a bad escape");
      }
      run = i;
    }
    out += text.slice(run, i);
    ++i;
    return out;
  };
  const num = (): JsonValue => {
    const m = /^-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 1100));
    if (m === null) malformed("not JSON");
    i += m[0].length;
    const integer = m[1] === undefined && m[2] === undefined;
    // as simdjson: an integer beyond 64 bits, or a number beyond a double, is not a number
    if (integer) {
      const b = BigInt(m[0]);
      if (b < I64_MIN || b > U64_MAX) malformed(`not JSON: ${m[0]} is beyond 64 bits`);
    } else if (!Number.isFinite(Number(m[0]))) {
      malformed(`not JSON: ${m[0]} is beyond a double`);
    }
    return { t: "number", text: m[0], integer };
  };
  const value = (depth: number): JsonValue => {
    ws();
    if (i >= n) malformed("not JSON: the text ends early");
    const c = text[i]!;
    if (c === "{" || c === "[") {
      if (depth >= maxJsonDepth) {
        throw new CodecError("nesting_too_deep", `JSON arrays and objects nested beyond ${maxJsonDepth}`);
      }
      ++i;
      ws();
      if (c === "[") {
        const a: JsonValue[] = [];
        if (text[i] === "]") {
          ++i;
          return { t: "array", v: a };
        }
        for (;;) {
          a.push(value(depth + 1));
          ws();
          if (text[i] === ",") {
            ++i;
            continue;
          }
          if (text[i] === "]") {
            ++i;
            return { t: "array", v: a };
          }
          malformed("not JSON: expected , or ]");
        }
      }
      const o: [string, JsonValue][] = [];
      if (text[i] === "}") {
        ++i;
        return { t: "object", v: o };
      }
      for (;;) {
        ws();
        if (text[i] !== '"') malformed("not JSON: expected a key");
        const k = str();
        ws();
        if (text[i] !== ":") malformed("not JSON: expected :");
        ++i;
        o.push([k, value(depth + 1)]);
        ws();
        if (text[i] === ",") {
          ++i;
          continue;
        }
        if (text[i] === "}") {
          ++i;
          return { t: "object", v: o };
        }
        malformed("not JSON: expected , or }");
      }
    }
    if (c === '"') return { t: "string", v: str() };
    if (text.startsWith("true", i)) {
      i += 4;
      return { t: "bool", v: true };
    }
    if (text.startsWith("false", i)) {
      i += 5;
      return { t: "bool", v: false };
    }
    if (text.startsWith("null", i)) {
      i += 4;
      return { t: "null" };
    }
    return num();
  };
  const root = value(0);
  ws();
  if (i !== n) malformed("not JSON: text after the value");
  return root;
}

function wrongType(at: string, v: JsonValue): never {
  throw new CodecError("wrong_wire_type", `${at}: a JSON ${v.t} where it does not belong`);
}

/** An integer of a JSON value, as ember's `json::get_int` takes it (before the range check of
 * its field). */
function jsonInteger(v: JsonValue, signed: boolean, at: string): bigint {
  if (v.t === "number") {
    if (v.integer) return BigInt(v.text); // within 64 bits: parseJson checked
    const d = Number(v.text);
    if (!Number.isFinite(d) || d !== Math.trunc(d)) outOfRange(at, `${v.text} is not an integer`);
    if (d >= 2 ** 64 || d < -(2 ** 63)) outOfRange(at, `${v.text} does not fit in 64 bits`);
    return BigInt(d);
  }
  if (v.t === "string") {
    const ok = signed ? /^-?[0-9]+$/ : /^[0-9]+$/;
    if (!ok.test(v.v)) malformed(`${at}: "${v.v}" is not a number`);
    const b = BigInt(v.v);
    if (signed ? b < I64_MIN || b > I64_MAX : b > U64_MAX) outOfRange(at, `${v.v} does not fit in 64 bits`);
    return b;
  }
  return wrongType(at, v);
}

function jsonF64(v: JsonValue, at: string): number {
  // an integer is read as one (so -0 is 0), then rounded to the nearest double, as simdjson
  if (v.t === "number") return v.integer ? Number(BigInt(v.text)) : Number(v.text);
  if (v.t === "string") {
    if (v.v === "NaN") return NaN;
    if (v.v === "Infinity") return Infinity;
    if (v.v === "-Infinity") return -Infinity;
    if (!/^-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/.test(v.v)) {
      malformed(`${at}: "${v.v}" is not a number`);
    }
    const d = Number(v.v);
    if (!Number.isFinite(d)) outOfRange(at, `${v.v} is beyond a double`);
    return d;
  }
  return wrongType(at, v);
}

function readJsonValue(v: JsonValue, t: Type, at: string, depth: number, into?: unknown): unknown {
  switch (t.k) {
    case "bool":
      if (v.t !== "bool") wrongType(at, v);
      return v.v;
    case "sint": {
      const b = jsonInteger(v, true, at);
      if (b < BigInt(t.min) || b > BigInt(t.max)) outOfRange(at, `${b} does not fit in ${t.min}..${t.max}`);
      return Number(b);
    }
    case "uint": {
      const b = jsonInteger(v, false, at);
      if (b < 0n || b > BigInt(t.max)) outOfRange(at, `${b} does not fit in 0..${t.max}`);
      return Number(b);
    }
    case "i64": {
      const b = jsonInteger(v, true, at);
      if (b > I64_MAX) outOfRange(at, `${b} does not fit in an i64`);
      return b;
    }
    case "u64": {
      const b = jsonInteger(v, false, at);
      if (b < 0n) outOfRange(at, `${b} does not fit in a u64`);
      return b;
    }
    case "f64":
      return jsonF64(v, at);
    case "f32": {
      const d = jsonF64(v, at);
      const f = Math.fround(d);
      if (Number.isFinite(d) && !Number.isFinite(f)) outOfRange(at, `${d} is beyond a float`);
      return f;
    }
    case "string":
      if (v.t !== "string") wrongType(at, v);
      return v.v;
    case "bytes": {
      if (v.t !== "string") wrongType(at, v);
      const b = base64Decode(v.v);
      if (b === undefined) malformed(`${at}: bad base64`);
      return b;
    }
    case "enum": {
      if (v.t === "string") {
        const e = t.e.byName.get(v.v);
        if (e === undefined) outOfRange(at, `'${v.v}' is not a value of ${t.e.name}`);
        return e;
      }
      if (v.t !== "number") wrongType(at, v);
      const b = jsonInteger(v, true, at);
      if (b < -2147483648n || b > 2147483647n) outOfRange(at, `${b} is outside int32`);
      return Number(b);
    }
    case "struct": {
      const m = (into ?? t.m.create()) as Record<string, unknown>;
      readJsonMessage(v, m, t.m, depth + 1);
      return m;
    }
    case "list": {
      if (v.t !== "array") wrongType(at, v);
      const out = into as unknown[];
      for (const x of v.v) out.push(readJsonValue(x, t.of, at, depth));
      return out;
    }
    case "map": {
      if (v.t !== "object") wrongType(at, v);
      const out = into as Map<string, unknown>;
      for (const [k, x] of v.v) out.set(k, readJsonValue(x, t.of, at, depth));
      return out;
    }
    case "optional":
      return readJsonValue(v, t.of, at, depth, t.of.k === "struct" ? into : undefined);
  }
}

export function readJsonMessage(v: JsonValue, m: Record<string, unknown>, info: MessageInfo, depth: number): void {
  if (depth > maxDepth) throw new CodecError("nesting_too_deep", `${info.name}: structs nested more than ${maxDepth} deep`);
  if (v.t !== "object") wrongType(info.name, v);
  for (const [key, x] of v.v) {
    if (x.t === "null") continue; // null is the key being absent
    const i = info.indexOfName(key);
    if (i < 0) continue; // a newer peer's field
    const [, name, t] = info.fields[i]!;
    // structs merge, lists and maps append; an optional struct starts afresh (C++ emplace())
    const keep = t.k === "struct" || t.k === "list" || t.k === "map";
    m[name] = readJsonValue(x, t, info.where(i), depth, keep ? m[name] : undefined);
  }
}
