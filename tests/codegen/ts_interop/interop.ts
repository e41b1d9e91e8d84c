// The TypeScript half of the cross-language golden test (run.py): the same messages as
// interop.cpp builds, built here from all_types.toml's generated TypeScript.
//
//   node interop.js DIR BAD_BODIES
//
// For every case C++ wrote (DIR/CASE.bin, DIR/CASE.json): this side's own encoding of the
// same message must be the same bytes; decoding C++'s bytes must give this side's message
// (deep equality: bigint, Map, Uint8Array, -0 and NaN included), and re-encoding what was
// decoded must give C++'s bytes again. Then it writes DIR/CASE.ts.bin and DIR/CASE.ts.json for
// interop.cpp to decode. Every line of bad_bodies.txt must fail (or pass) as it says; what a
// body that decodes becomes, encoded again, must be what C++ made of it (DIR/accepted.txt); and
// the nesting limit must sit where C++'s does.
import { readFileSync, writeFileSync } from "node:fs";
import { isDeepStrictEqual } from "node:util";

import * as at from "./gen/all_types.js";
import { CodecError, type Codec, type MessageInfo, type Type } from "./gen/ember.js";

type AnyCodec = Codec<any>;

interface Case {
  name: string;
  codec: AnyCodec;
  value: unknown;
  /** read C++'s bytes as another (older) message */
  readAs?: { codec: AnyCodec; value: unknown };
}

const I32_MIN = -2147483648;
const I32_MAX = 2147483647;
const U32_MAX = 4294967295;
const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;
const U64_MAX = 2n ** 64n - 1n;
const FLT_MAX = 3.4028234663852886e38;
const FLT_DENORM_MIN = 2 ** -149;
const DBL_DENORM_MIN = Number.MIN_VALUE;

const B = (...v: number[]): Uint8Array => new Uint8Array(v);
const P = (x: number, y: number): at.point => ({ x, y });
const T = (label: string, children: at.tree[] = []): at.tree => ({ label, children });

function scalarsMax(): at.scalars {
  return at.scalars.create({
    b: true,
    i8v: 127,
    i16v: 32767,
    i32v: I32_MAX,
    i64v: I64_MAX,
    u8v: 255,
    u16v: 65535,
    u32v: U32_MAX,
    u64v: U64_MAX,
    f32v: FLT_MAX,
    f64v: Number.MAX_VALUE,
    s: "h\u00e9llo w\u00f6rld \u2713 \u{1F600} \u2028",
    raw: new Uint8Array(256).map((_, i) => i),
    color: at.color.default,
    at: P(-1, 1),
    last: U32_MAX,
  });
}

function listsFull(): at.lists {
  return {
    bools: [true, false, true],
    i8s: [-128, 0, 127],
    i32s: [I32_MIN, -1, 0, 1, I32_MAX],
    i64s: [I64_MIN, -1n, 0n, I64_MAX],
    u8s: [0, 255],
    u16s: [3, 270, 65535],
    u64s: [0n, 1n, U64_MAX],
    f32s: [0.5, -0, FLT_MAX],
    f64s: [0.1, -0, DBL_DENORM_MIN, 1e300],
    strings: ["a", "", "\u00fc\u{1F600}"],
    blobs: [B(), B(0, 255)],
    colors: [at.color.none, at.color.infrared, at.color.default, 42],
    points: [P(0, 0), P(1, -1)],
  };
}

function mapsFull(): at.maps {
  return {
    flags: new Map([["", false], ["b", true]]),
    counts: new Map([["a", -1n], ["z", I64_MIN]]),
    sizes: new Map([["x", 0], ["y", U32_MAX]]),
    ratios: new Map([["r", 0.25]]),
    weights: new Map([["w", -1.5]]),
    // inserted out of order on purpose: the encoders sort by UTF-8 bytes
    names: new Map([["e", "plain"], ["\u{1F600}", "emoji"], ["\u00e9", ""], ["\uffff", "last BMP"]]),
    blobs: new Map([["k", B(1, 2, 3)], ["empty", B()]]),
    colors: new Map<string, at.color>([["n", at.color.none], ["c", at.color.infrared]]),
    places: new Map([["p", P(3, 4)], ["origin", P(0, 0)]]),
  };
}

function optionalsZero(): at.optionals {
  return { b: false, i32v: 0, u64v: 0n, f32v: 0, f64v: 0, s: "", raw: B(), color: at.color.none, at: P(0, 0) };
}

function optionalsSet(): at.optionals {
  return { b: true, i32v: -7, u64v: U64_MAX, f32v: 1.5, f64v: -2.25, s: "x", raw: B(9), color: at.color.blue, at: P(5, 6) };
}

const treeDeep = (): at.tree => T("root", [T("a", [T("a1")]), T(""), T("b")]);

function itemNewer(): at.item_v2 {
  return {
    id: 42n,
    name: "sword",
    count: -3,
    weight: 2.5,
    ratio: 0.75,
    tags: ["a", "b"],
    scores: [1, 2, 300],
    origin: P(1, 2),
    extra: new Map([["t", T("x")]]),
  };
}

function cases(): Case[] {
  const out: Case[] = [];
  const add = (name: string, codec: AnyCodec, value: unknown): void => {
    out.push({ name, codec, value });
  };
  add("everything_default", at.everything, at.everything.create());
  add("scalars_max", at.scalars, scalarsMax());
  add("scalars_min", at.scalars, at.scalars.create({
    i8v: -128,
    i16v: -32768,
    i32v: I32_MIN,
    i64v: I64_MIN,
    f32v: FLT_DENORM_MIN,
    f64v: DBL_DENORM_MIN,
    color: at.color.infrared,
    at: P(I32_MIN, I32_MAX),
    last: 1,
  }));
  add("floats_and_escapes", at.scalars, at.scalars.create({
    f32v: Math.fround(0.1),
    f64v: 0.1,
    s: "\x01\n\t\"\\/\x7f\ufeff\r\b\f\x1f",
    color: 42,
    u8v: 1,
  }));
  add("negative_zero", at.scalars, at.scalars.create({ f32v: -0, f64v: -0, i32v: -1 }));
  const floats: [number, number][] = [
    [16777216, 1e16], [1e-5, 123456789012345680000], [1234567, 1e-5],
    [0.0001, 1e15], [3.5, -2.5e-300], [100, 0.0001],
  ];
  floats.forEach(([f, d], i) => {
    add(`floats_${i + 1}`, at.scalars, at.scalars.create({ f32v: Math.fround(f), f64v: d }));
  });
  add("lists_full", at.lists, listsFull());
  add("maps_full", at.maps, mapsFull());
  add("optionals_zero", at.optionals, optionalsZero());
  add("optionals_set", at.optionals, optionalsSet());
  {
    const e = at.everything.create();
    e.optionals.f32v = NaN;
    e.optionals.f64v = Infinity;
    e.lists.f64s = [NaN, Infinity, -Infinity];
    e.lists.f32s = [-Infinity, NaN];
    add("nan_and_infinities", at.everything, e);
  }
  add("tree_deep", at.tree, treeDeep());
  add("everything_full", at.everything, {
    scalars: scalarsMax(),
    lists: listsFull(),
    maps: mapsFull(),
    optionals: optionalsSet(),
    tree: treeDeep(),
    level: at.level.high,
  });
  {
    const r = at.echo_request.create({ token: "secret" });
    r.payload.level = at.level.high;
    r.payload.scalars.s = "p";
    add("echo_request", at.echo_request, r);
  }
  add("event", at.event, { item: itemNewer(), at_ms: 1700000000000n });
  add("stats_request", at.stats_request, { levels: [at.level.high, at.level.low, at.level.high] });
  add("stats_reply", at.stats_reply, { sessions: 3, load: new Map([["mem", 0.25], ["cpu", 0.5]]) });
  {
    const e = at.everything.create();
    e.scalars.s = "x".repeat(300);
    for (let i = 0; i < 3000; ++i) e.lists.points.push(P(i, 0 - i)); // 0 - 0 is +0, -0 is not
    add("long", at.everything, e);
  }
  out.push({
    name: "item_newer_read_as_v1",
    codec: at.item_v2,
    value: itemNewer(),
    readAs: { codec: at.item_v1, value: { id: 42n, name: "sword" } },
  });
  return out;
}

// ---------------------------------------------------------------------------------------------

const [dir, badBodiesPath] = process.argv.slice(2);
if (dir === undefined || badBodiesPath === undefined) {
  console.error("usage: node interop.js DIR BAD_BODIES");
  process.exit(2);
}

let failures = 0;
function fail(what: string): void {
  console.log(`FAIL ${what}`);
  ++failures;
}

const hex = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");
const utf8 = new TextEncoder();
const same = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
const show = (v: unknown): string => clip(JSON.stringify(v, (_, x) => (typeof x === "bigint" ? `${x}n` : x instanceof Map ? Object.fromEntries(x) :
    x instanceof Uint8Array ? hex(x) : typeof x === "number" && !Number.isFinite(x) ? String(x) : x)));
const clip = (s: string): string => (s.length > 800 ? s.slice(0, 800) + "..." : s);

function describe(e: unknown): string {
  return e instanceof CodecError ? e.message : String(e);
}

const all = cases();
const listed = readFileSync(`${dir}/cases.txt`, "utf8").split("\n").filter((x) => x);
if (!isDeepStrictEqual(listed, all.map((c) => c.name))) {
  fail(`the cases differ: C++ wrote [${listed.join(", ")}], TypeScript has [${all.map((c) => c.name).join(", ")}]`);
}

let checked = 0;
for (const c of all) {
  let good = true;
  for (const json of [false, true]) {
    const what = `${c.name}.${json ? "json" : "bin"}`;
    let cpp: Uint8Array;
    try {
      cpp = new Uint8Array(readFileSync(`${dir}/${what}`));
    } catch {
      fail(`${what}: C++ did not write it`);
      good = false;
      continue;
    }
    const encode = (codec: AnyCodec, v: unknown): Uint8Array =>
      json ? utf8.encode(codec.encodeJson(v)) : codec.encode(v);
    const decode = (codec: AnyCodec, b: Uint8Array): unknown => (json ? codec.decodeJson(b) : codec.decode(b));
    // 1. this side's own encoding of the same message: the same bytes
    const mine = encode(c.codec, c.value);
    if (!same(mine, cpp)) {
      fail(`${what}: TypeScript encodes differently\n   C++: ${json ? new TextDecoder().decode(cpp) : hex(cpp)}\n   TS:  ${json ? new TextDecoder().decode(mine) : hex(mine)}`);
      good = false;
    }
    writeFileSync(`${dir}/${c.name}.ts.${json ? "json" : "bin"}`, mine);
    // 2. C++'s bytes decode to this side's message and re-encode to the same bytes
    const reader = c.readAs?.codec ?? c.codec;
    const expected = c.readAs?.value ?? c.value;
    try {
      const got = decode(reader, cpp);
      if (!isDeepStrictEqual(got, expected)) {
        fail(`${what}: decodes to ${show(got)}\n   expected ${show(expected)}`);
        good = false;
      }
      if (c.readAs === undefined && !same(encode(reader, got), cpp)) {
        fail(`${what}: decoded and encoded again, the bytes differ`);
        good = false;
      }
    } catch (e) {
      fail(`${what}: TypeScript cannot decode C++'s encoding: ${describe(e)}`);
      good = false;
    }
  }
  if (good) ++checked;
}
console.log(`TypeScript: ${checked}/${all.length} cases encode to C++'s bytes and decode C++'s bytes (binary and JSON)`);

// bad bodies
const codecs: Record<string, AnyCodec> = {
  scalars: at.scalars, lists: at.lists, maps: at.maps, optionals: at.optionals, tree: at.tree,
  everything: at.everything, item_v1: at.item_v1,
};
const accepted = readFileSync(`${dir}/accepted.txt`, "utf8").split("\n");
let acceptedIndex = 0;
let bad = 0;
let badMismatches = 0;
for (const line of readFileSync(badBodiesPath, "utf8").split("\n")) {
  if (line === "" || line.startsWith("#")) continue;
  const m = /^(\S+)\s+(\S+)\s+(\S+)\s*(.*)$/.exec(line);
  if (m === null) {
    fail(`bad_bodies.txt: cannot read the line ${line}`);
    continue;
  }
  const [, message, enc, expect, rest] = m as unknown as [string, string, string, string, string];
  const codec = codecs[message];
  if (codec === undefined) {
    fail(`bad_bodies.txt names an unknown message '${message}'`);
    continue;
  }
  const body = enc === "json" ? utf8.encode(rest) : new Uint8Array(rest.split(/\s+/).filter((x) => x).map((x) => parseInt(x, 16)));
  let got = "ok";
  const cppAgain = expect === "ok" ? accepted[acceptedIndex++] : undefined;
  try {
    const m: unknown = enc === "binary" ? codec.decode(body) : codec.decodeJson(body);
    // what this side made of the body must be what C++ made of it: encoded again, the same
    const again = `${hex(codec.encode(m))} | ${codec.encodeJson(m)}`;
    if (expect === "ok" && again !== cppAgain) {
      fail(`body: ${line}\n   decoded and encoded again, C++ has ${cppAgain}\n                          TypeScript ${again}`);
    }
  } catch (e) {
    got = e instanceof CodecError ? e.code : `not a CodecError: ${String(e)}`;
  }
  ++bad;
  if (got !== expect) {
    fail(`bad body: ${line}\n   TypeScript says ${got}`);
    ++badMismatches;
  }
}
console.log(`TypeScript: ${bad - badMismatches}/${bad} bodies of bad_bodies.txt decoded as it expects; ` +
  `the ${acceptedIndex} that decode, to what C++ made of them`);

// the nesting limit: 64 structs below the top-level one decode, 65 do not
function nestedBinary(depth: number): Uint8Array {
  let inner = new Uint8Array(0);
  for (let i = 0; i < depth; ++i) {
    // key 0x12 (children, length-delimited), the length, the inner tree
    const len: number[] = [];
    for (let n = inner.length; ; n >>>= 7) {
      if (n < 0x80) {
        len.push(n);
        break;
      }
      len.push((n & 0x7f) | 0x80);
    }
    const out = new Uint8Array(1 + len.length + inner.length);
    out[0] = 0x12;
    out.set(len, 1);
    out.set(inner, 1 + len.length);
    inner = out;
  }
  return inner;
}
const nestedJson = (depth: number): string => '{"children":['.repeat(depth) + "{}" + "]}".repeat(depth);
for (const [depth, expect] of [[64, "ok"], [65, "nesting_too_deep"]] as const) {
  for (const json of [false, true]) {
    let got = "ok";
    try {
      if (json) at.tree.decodeJson(nestedJson(depth));
      else at.tree.decode(nestedBinary(depth));
    } catch (e) {
      got = e instanceof CodecError ? e.code : String(e);
    }
    if (got !== expect) fail(`tree nested ${depth} deep (${json ? "JSON" : "binary"}): ${got}, expected ${expect}`);
  }
}

// values no C++ field could hold are refused by the encoders, not truncated
for (const [what, f] of [
  ["u8 300", () => at.scalars.encode(at.scalars.create({ u8v: 300 }))],
  ["i32 1.5", () => at.scalars.encode(at.scalars.create({ i32v: 1.5 }))],
  ["u64 -1n", () => at.scalars.encodeJson(at.scalars.create({ u64v: -1n }))],
] as const) {
  try {
    f();
    fail(`encoding ${what} should throw value_out_of_range`);
  } catch (e) {
    if (!(e instanceof CodecError) || e.code !== "value_out_of_range") fail(`encoding ${what}: ${String(e)}`);
  }
}

// random messages: every field of `everything` random (floats from random bits, integers at
// and between their limits, strings of any code point, unknown enum values); C++ decodes them
// (interop check) and must encode them again to the same bytes, binary and JSON
let seed = Number(process.env["EMBER_TS_SEED"] ?? 20261206) >>> 0;
function rand32(): number {
  // mulberry32
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return (t ^ (t >>> 14)) >>> 0;
}
const below = (n: number): number => rand32() % n;
const bits = new DataView(new ArrayBuffer(8));
function randomInt(min: number, max: number): number {
  const pick = below(4);
  if (pick === 0) return min;
  if (pick === 1) return max;
  return Math.min(max, Math.max(min, min + Math.floor((rand32() / 2 ** 32) * (max - min + 1))));
}
function randomBig(min: bigint, max: bigint): bigint {
  const pick = below(4);
  if (pick === 0) return min;
  if (pick === 1) return max;
  const r = (BigInt(rand32()) << 32n) | BigInt(rand32());
  const v = pick === 2 ? r % 1000n : r;
  return min + (v % (max - min + 1n));
}
function randomString(): string {
  const n = below(8);
  let s = "";
  for (let i = 0; i < n; ++i) {
    const kind = below(4);
    const cp = kind === 0 ? below(0x80) : kind === 1 ? 0x80 + below(0x800 - 0x80)
      : kind === 2 ? 0xe000 + below(0x2000) : 0x10000 + below(0x100000);
    s += String.fromCodePoint(cp);
  }
  return s;
}
function randomValue(t: Type, depth: number): unknown {
  switch (t.k) {
    case "bool": return below(2) === 1;
    case "sint": return randomInt(t.min, t.max);
    case "uint": return randomInt(0, t.max);
    case "i64": return randomBig(-(2n ** 63n), 2n ** 63n - 1n);
    case "u64": return randomBig(0n, 2n ** 64n - 1n);
    case "f32":
      // NaN canonical: payloads do not travel (JSON has one "NaN")
      bits.setUint32(0, rand32());
      return below(8) === 0 ? 0 : Number.isNaN(bits.getFloat32(0)) ? NaN : bits.getFloat32(0);
    case "f64":
      bits.setUint32(0, rand32());
      bits.setUint32(4, rand32());
      return below(8) === 0 ? 0 : Number.isNaN(bits.getFloat64(0)) ? NaN : bits.getFloat64(0);
    case "string": return randomString();
    case "bytes": return new Uint8Array(below(6)).map(() => below(256));
    case "enum": {
      const names = [...t.e.byValue.keys()];
      return below(4) === 0 ? randomInt(-2147483648, 2147483647) : names[below(names.length)];
    }
    case "struct": return randomMessage(t.m, depth + 1);
    case "list": return depth > 3 ? [] : Array.from({ length: below(4) }, () => randomValue(t.of, depth));
    case "map": {
      const m = new Map<string, unknown>();
      for (let i = below(4); i > 0; --i) m.set(randomString(), randomValue(t.of, depth));
      return m;
    }
    case "optional": return below(2) === 0 ? undefined : randomValue(t.of, depth);
  }
}
function randomMessage(info: MessageInfo, depth: number): Record<string, unknown> {
  const m: Record<string, unknown> = {};
  for (const [, name, t] of info.fields) {
    const v = randomValue(t, depth);
    if (v !== undefined) m[name] = v;
  }
  return m;
}
{
  const count = 1000;
  const firstSeed = seed;
  const records = (bodies: Uint8Array[]): Uint8Array => {
    const size = bodies.reduce((n, b) => n + 4 + b.length, 0);
    const out = new Uint8Array(size);
    const view = new DataView(out.buffer);
    let at = 0;
    for (const b of bodies) {
      view.setUint32(at, b.length, true);
      out.set(b, at + 4);
      at += 4 + b.length;
    }
    return out;
  };
  const bin: Uint8Array[] = [];
  const json: Uint8Array[] = [];
  for (let i = 0; i < count; ++i) {
    const m = randomMessage(at.everything.info, 0) as unknown as at.everything;
    bin.push(at.everything.encode(m));
    json.push(utf8.encode(at.everything.encodeJson(m)));
    // and this side reads its own encodings back to the same bytes
    if (!same(at.everything.encode(at.everything.decode(bin[i]!)), bin[i]!) ||
        at.everything.encodeJson(at.everything.decodeJson(json[i]!)) !== new TextDecoder().decode(json[i]!)) {
      fail(`random message ${i} (seed ${firstSeed}): TypeScript does not read its own encoding back`);
    }
  }
  writeFileSync(`${dir}/random.bin.rec`, records(bin));
  writeFileSync(`${dir}/random.json.rec`, records(json));
  console.log(`TypeScript: ${count} random messages (seed ${firstSeed}, EMBER_TS_SEED) written for C++`);
}

if (failures) {
  console.log(`TypeScript: ${failures} failures`);
  process.exit(1);
}
console.log("TypeScript: all checks passed");
