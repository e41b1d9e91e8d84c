// The C# half of the cross-language golden test (run.py): the same messages as interop.cpp
// (tests/codegen/ts_interop/) builds, built here from all_types.toml's generated C#.
//
//   mono interop.exe DIR BAD_BODIES
//
// For every case C++ wrote (DIR/CASE.bin, DIR/CASE.json): C#'s own encoding of the same message
// must be the same bytes; C++'s bytes must decode to C#'s message (compared by encoding both,
// binary and JSON) and encode again to C++'s bytes. Then it writes DIR/CASE.cs.bin and
// DIR/CASE.cs.json for `interop check` to decode. Every line of bad_bodies.txt must fail (or
// pass) as it says, a body that decodes to what C++ made of it (DIR/accepted.txt); the nesting
// limit sits where C++'s does; and 1000 random messages go to C++ (DIR/random.*.rec).
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using all_types;
using Ember;

static class Interop
{
    sealed class Case
    {
        public string Name;
        public IMessage Value;
        public Func<byte[], bool, IMessage> Decode;
        public IMessage ReadAsValue; // read C++'s bytes as another (older) message
    }

    static int failures;

    static void Fail(string what)
    {
        Console.WriteLine("FAIL " + what);
        ++failures;
    }

    static Func<byte[], bool, IMessage> Dec<T>() where T : IMessage, new()
    {
        return (b, json) => json ? (IMessage)Codec.DecodeJson<T>(b) : Codec.Decode<T>(b);
    }

    static byte[] B(params int[] v) { return v.Select(x => (byte)x).ToArray(); }
    static point P(int x, int y) { return new point { x = x, y = y }; }
    static tree T(string label, params tree[] children) { return new tree { label = label, children = children.ToList() }; }

    static scalars ScalarsMax()
    {
        return new scalars
        {
            b = true, i8v = 127, i16v = 32767, i32v = int.MaxValue, i64v = long.MaxValue, u8v = 255, u16v = 65535,
            u32v = uint.MaxValue, u64v = ulong.MaxValue, f32v = float.MaxValue, f64v = double.MaxValue,
            s = "h\u00e9llo w\u00f6rld \u2713 \U0001F600 \u2028",
            raw = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray(),
            color = color.@default, at = P(-1, 1), last = uint.MaxValue,
        };
    }

    static lists ListsFull()
    {
        return new lists
        {
            bools = { true, false, true },
            i8s = { -128, 0, 127 },
            i32s = { int.MinValue, -1, 0, 1, int.MaxValue },
            i64s = { long.MinValue, -1, 0, long.MaxValue },
            u8s = { 0, 255 },
            u16s = { 3, 270, 65535 },
            u64s = { 0, 1, ulong.MaxValue },
            f32s = { 0.5f, -0.0f, float.MaxValue },
            f64s = { 0.1, -0.0, double.Epsilon, 1e300 },
            strings = { "a", "", "\u00fc\U0001F600" },
            blobs = { B(), B(0, 255) },
            colors = { color.none, color.infrared, color.@default, (color)42 },
            points = { P(0, 0), P(1, -1) },
        };
    }

    static maps MapsFull()
    {
        var m = new maps();
        m.flags[""] = false; m.flags["b"] = true;
        m.counts["a"] = -1; m.counts["z"] = long.MinValue;
        m.sizes["x"] = 0; m.sizes["y"] = uint.MaxValue;
        m.ratios["r"] = 0.25f;
        m.weights["w"] = -1.5;
        // inserted out of order on purpose: the encoders sort by UTF-8 bytes (UTF-16 order differs)
        m.names["e"] = "plain"; m.names["\U0001F600"] = "emoji"; m.names["\u00e9"] = ""; m.names["\uffff"] = "last BMP";
        m.blobs["k"] = B(1, 2, 3); m.blobs["empty"] = B();
        m.colors["n"] = color.none; m.colors["c"] = color.infrared;
        m.places["p"] = P(3, 4); m.places["origin"] = P(0, 0);
        return m;
    }

    static optionals OptionalsZero()
    {
        return new optionals { b = false, i32v = 0, u64v = 0, f32v = 0, f64v = 0, s = "", raw = B(), color = color.none, at = P(0, 0) };
    }

    static optionals OptionalsSet()
    {
        return new optionals { b = true, i32v = -7, u64v = ulong.MaxValue, f32v = 1.5f, f64v = -2.25, s = "x", raw = B(9), color = color.blue, at = P(5, 6) };
    }

    static tree TreeDeep() { return T("root", T("a", T("a1")), T(""), T("b")); }

    static item_v2 ItemNewer()
    {
        var i = new item_v2 { id = 42, name = "sword", count = -3, weight = 2.5, ratio = 0.75f, tags = { "a", "b" }, scores = { 1, 2, 300 }, origin = P(1, 2) };
        i.extra["t"] = T("x");
        return i;
    }

    static List<Case> Cases()
    {
        var out_ = new List<Case>();
        Action<string, IMessage, Func<byte[], bool, IMessage>> add = (n, v, d) => out_.Add(new Case { Name = n, Value = v, Decode = d });
        add("everything_default", new everything(), Dec<everything>());
        add("scalars_max", ScalarsMax(), Dec<scalars>());
        add("scalars_min", new scalars
        {
            i8v = -128, i16v = -32768, i32v = int.MinValue, i64v = long.MinValue, f32v = Floats.FromBits(1), f64v = double.Epsilon,
            color = color.infrared, at = P(int.MinValue, int.MaxValue), last = 1,
        }, Dec<scalars>());
        add("floats_and_escapes", new scalars { f32v = 0.1f, f64v = 0.1, s = "\x01\n\t\"\\/\x7f\ufeff\r\b\f\x1f", color = (color)42, u8v = 1 }, Dec<scalars>());
        add("negative_zero", new scalars { f32v = -0.0f, f64v = -0.0, i32v = -1 }, Dec<scalars>());
        var floats = new[] { Tuple.Create(16777216f, 1e16), Tuple.Create(1e-5f, 123456789012345680000.0), Tuple.Create(1234567f, 1e-5),
                             Tuple.Create(0.0001f, 1e15), Tuple.Create(3.5f, -2.5e-300), Tuple.Create(100f, 0.0001) };
        for (int i = 0; i < floats.Length; ++i) add("floats_" + (i + 1), new scalars { f32v = floats[i].Item1, f64v = floats[i].Item2 }, Dec<scalars>());
        add("lists_full", ListsFull(), Dec<lists>());
        add("maps_full", MapsFull(), Dec<maps>());
        add("optionals_zero", OptionalsZero(), Dec<optionals>());
        add("optionals_set", OptionalsSet(), Dec<optionals>());
        {
            var e = new everything();
            e.optionals.f32v = Floats.NaN32;
            e.optionals.f64v = double.PositiveInfinity;
            e.lists.f64s = new List<double> { Floats.NaN, double.PositiveInfinity, double.NegativeInfinity };
            e.lists.f32s = new List<float> { float.NegativeInfinity, Floats.NaN32 };
            add("nan_and_infinities", e, Dec<everything>());
        }
        add("tree_deep", TreeDeep(), Dec<tree>());
        add("everything_full", new everything
        {
            scalars = ScalarsMax(), lists = ListsFull(), maps = MapsFull(), optionals = OptionalsSet(), tree = TreeDeep(), level = level.high,
        }, Dec<everything>());
        {
            var r = new echo_request { token = "secret" };
            r.payload.level = level.high;
            r.payload.scalars.s = "p";
            add("echo_request", r, Dec<echo_request>());
        }
        add("event", new @event { item = ItemNewer(), at_ms = 1700000000000 }, Dec<@event>());
        add("stats_request", new stats_request { levels = { level.high, level.low, level.high } }, Dec<stats_request>());
        {
            var p = new stats_reply { sessions = 3 };
            p.load["mem"] = 0.25; p.load["cpu"] = 0.5;
            add("stats_reply", p, Dec<stats_reply>());
        }
        {
            var e = new everything();
            e.scalars.s = new string('x', 300);
            for (int i = 0; i < 3000; ++i) e.lists.points.Add(P(i, -i));
            add("long", e, Dec<everything>());
        }
        out_.Add(new Case { Name = "item_newer_read_as_v1", Value = ItemNewer(), Decode = Dec<item_v1>(), ReadAsValue = new item_v1 { id = 42, name = "sword" } });
        return out_;
    }

    static string Hex(byte[] b) { return string.Join(" ", b.Select(x => x.ToString("x2"))); }
    static bool Same(byte[] a, byte[] b) { return a.Length == b.Length && a.SequenceEqual(b); }
    static string Text(byte[] b) { return Encoding.UTF8.GetString(b); }
    static string Clip(string s) { return s.Length > 800 ? s.Substring(0, 800) + "..." : s; }

    static byte[] Enc(IMessage m, bool json) { return json ? Codec.EncodeJson(m) : Codec.Encode(m); }

    /// <summary>Two messages are equal when both their encodings are (every field is in them).</summary>
    static bool Equal(IMessage a, IMessage b) { return Same(Codec.Encode(a), Codec.Encode(b)) && Codec.EncodeJsonString(a) == Codec.EncodeJsonString(b); }

    static int Main(string[] args)
    {
        if (args.Length == 2 && args[0] == "mutants") return Mutants(args[1]);
        if (args.Length < 2)
        {
            Console.Error.WriteLine("usage: mono interop.exe DIR BAD_BODIES | mono interop.exe mutants DIR");
            return 2;
        }
        string dir = args[0], badBodiesPath = args[1];
        var all = Cases();
        var listed = File.ReadAllText(dir + "/cases.txt").Split('\n').Where(x => x.Length > 0).ToList();
        if (!listed.SequenceEqual(all.Select(c => c.Name)))
            Fail("the cases differ: C++ wrote [" + string.Join(", ", listed) + "], C# has [" + string.Join(", ", all.Select(c => c.Name)) + "]");

        int checkedCases = 0;
        foreach (var c in all)
        {
            bool good = true;
            foreach (bool json in new[] { false, true })
            {
                string what = c.Name + "." + (json ? "json" : "bin");
                byte[] cpp;
                try { cpp = File.ReadAllBytes(dir + "/" + what); }
                catch (IOException) { Fail(what + ": C++ did not write it"); good = false; continue; }
                // 1. C#'s own encoding of the same message: the same bytes
                var mine = Enc(c.Value, json);
                if (!Same(mine, cpp))
                {
                    Fail(what + ": C# encodes differently\n   C++: " + Clip(json ? Text(cpp) : Hex(cpp)) + "\n   C#:  " + Clip(json ? Text(mine) : Hex(mine)));
                    good = false;
                }
                File.WriteAllBytes(dir + "/" + c.Name + ".cs." + (json ? "json" : "bin"), mine);
                // 2. C++'s bytes decode to C#'s message and re-encode to the same bytes
                var expected = c.ReadAsValue ?? c.Value;
                try
                {
                    var got = c.Decode(cpp, json);
                    if (!Equal(got, expected))
                    {
                        Fail(what + ": decodes to " + Clip(got.ToString()) + "\n   expected " + Clip(expected.ToString()));
                        good = false;
                    }
                    if (c.ReadAsValue == null && !Same(Enc(got, json), cpp))
                    {
                        Fail(what + ": decoded and encoded again, the bytes differ");
                        good = false;
                    }
                }
                catch (CodecException e)
                {
                    Fail(what + ": C# cannot decode C++'s encoding: " + e.Message);
                    good = false;
                }
            }
            if (good) ++checkedCases;
        }
        Console.WriteLine("C#: " + checkedCases + "/" + all.Count + " cases encode to C++'s bytes and decode C++'s bytes (binary and JSON)");

        BadBodies(dir, badBodiesPath);
        Nesting();
        Refusals();
        Random(dir);

        if (failures > 0)
        {
            Console.WriteLine("C#: " + failures + " failures");
            return 1;
        }
        Console.WriteLine("C#: all checks passed");
        return 0;
    }

    static void BadBodies(string dir, string path)
    {
        var decoders = new Dictionary<string, Func<byte[], bool, IMessage>>
        {
            { "scalars", Dec<scalars>() }, { "lists", Dec<lists>() }, { "maps", Dec<maps>() }, { "optionals", Dec<optionals>() },
            { "tree", Dec<tree>() }, { "everything", Dec<everything>() }, { "item_v1", Dec<item_v1>() },
        };
        var accepted = File.ReadAllText(dir + "/accepted.txt").Split('\n');
        int acceptedIndex = 0, count = 0, mismatches = 0;
        var line_ = new Regex(@"^(\S+)\s+(\S+)\s+(\S+)\s*(.*)$");
        foreach (var line in File.ReadAllText(path).Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#') continue;
            var m = line_.Match(line);
            if (!m.Success) { Fail("bad_bodies.txt: cannot read the line " + line); continue; }
            string message = m.Groups[1].Value, enc = m.Groups[2].Value, expect = m.Groups[3].Value, rest = m.Groups[4].Value;
            Func<byte[], bool, IMessage> decode;
            if (!decoders.TryGetValue(message, out decode)) { Fail("bad_bodies.txt names an unknown message '" + message + "'"); continue; }
            byte[] body = enc == "json" ? Encoding.UTF8.GetBytes(rest)
                : rest.Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries).Select(x => Convert.ToByte(x, 16)).ToArray();
            string got = "ok";
            string cppAgain = expect == "ok" ? accepted[acceptedIndex++] : null;
            try
            {
                var msg = decode(body, enc != "binary");
                string again = Hex(Codec.Encode(msg)) + " | " + Codec.EncodeJsonString(msg);
                if (expect == "ok" && again != cppAgain)
                    Fail("body: " + line + "\n   decoded and encoded again, C++ has " + cppAgain + "\n                          C#  " + again);
            }
            catch (CodecException e) { got = e.CodeName; }
            catch (Exception e) { got = "not a CodecException: " + e; }
            ++count;
            if (got != expect)
            {
                Fail("bad body: " + line + "\n   C# says " + got);
                ++mismatches;
            }
        }
        Console.WriteLine("C#: " + (count - mismatches) + "/" + count + " bodies of bad_bodies.txt decoded as it expects; the " +
                          acceptedIndex + " that decode, to what C++ made of them");
    }

    static byte[] NestedBinary(int depth)
    {
        var inner = new byte[0];
        for (int i = 0; i < depth; ++i)
        {
            var len = new List<byte>();
            for (int n = inner.Length; ; n >>= 7)
            {
                if (n < 0x80) { len.Add((byte)n); break; }
                len.Add((byte)((n & 0x7f) | 0x80));
            }
            inner = new byte[] { 0x12 }.Concat(len).Concat(inner).ToArray();
        }
        return inner;
    }

    static void Nesting()
    {
        foreach (var c in new[] { Tuple.Create(64, "ok"), Tuple.Create(65, "nesting_too_deep") })
        {
            foreach (bool json in new[] { false, true })
            {
                string got = "ok";
                try
                {
                    if (json) Codec.DecodeJson<tree>(string.Concat(Enumerable.Repeat("{\"children\":[", c.Item1)) + "{}" + string.Concat(Enumerable.Repeat("]}", c.Item1)));
                    else Codec.Decode<tree>(NestedBinary(c.Item1));
                }
                catch (CodecException e) { got = e.CodeName; }
                if (got != c.Item2) Fail("tree nested " + c.Item1 + " deep (" + (json ? "JSON" : "binary") + "): " + got + ", expected " + c.Item2);
            }
        }
    }

    /// <summary>What no C++ message could hold is refused by the encoders: a null in a list or map.</summary>
    static void Refusals()
    {
        var cases = new List<Tuple<string, Action>>
        {
            Tuple.Create<string, Action>("a null string in a list", () => Codec.Encode(new lists { strings = { "a", null } })),
            Tuple.Create<string, Action>("a null struct in a map (JSON)", () => { var m = new maps(); m.places["x"] = null; Codec.EncodeJson(m); }),
        };
        foreach (var c in cases)
        {
            try { c.Item2(); Fail("encoding " + c.Item1 + " should throw value_out_of_range"); }
            catch (CodecException e) { if (e.Code != CodecError.ValueOutOfRange) Fail("encoding " + c.Item1 + ": " + e.Message); }
        }
        // a null where a value belongs (string, bytes, struct, list, map) is the default
        var n = new scalars { s = null, raw = null, at = null };
        if (Codec.Encode(n).Length != 0 || Codec.EncodeJsonString(n) != Codec.EncodeJsonString(new scalars()))
            Fail("null fields are not written as their defaults");
    }

    // mutants: the C++ bodies of the cases, damaged at random (a byte changed, dropped, added,
    // the body cut short), binary and JSON; C# decodes each and writes DIR/mutants.txt in the
    // format of bad_bodies.txt with its verdict (for `interop check` to compare with C++'s), and
    // DIR/mutants.cs.txt: what each body that decodes becomes, encoded again (for `interop
    // write`'s accepted.txt). Anything but a CodecException is a failure here.
    /// <summary>What a damaged JSON body gets inserted: its syntax, digits, escapes.</summary>
    const string JsonBytes = "{}[],:\"0-.e\\ntu";

    static int Mutants(string dir)
    {
        var decoders = new Dictionary<string, Func<byte[], bool, IMessage>>
        {
            { "scalars", Dec<scalars>() }, { "lists", Dec<lists>() }, { "maps", Dec<maps>() }, { "optionals", Dec<optionals>() },
            { "tree", Dec<tree>() }, { "everything", Dec<everything>() },
        };
        var sources = new List<Tuple<string, string>>();
        foreach (var c in Cases())
        {
            string message = c.Value.GetType().Name;
            if (decoders.ContainsKey(message) && c.Name != "long") sources.Add(Tuple.Create(message, c.Name));
        }
        string env = Environment.GetEnvironmentVariable("EMBER_CS_SEED");
        seed = env != null ? uint.Parse(env) : 20261206u;
        var lines = new StringBuilder("# C#'s verdicts on damaged C++ bodies (cs_interop/interop.cs)\n");
        var again = new StringBuilder();
        int count = 0, decoded = 0;
        const int perSource = 150;
        foreach (var src in sources)
        {
            foreach (bool json in new[] { false, true })
            {
                var body = File.ReadAllBytes(dir + "/" + src.Item2 + (json ? ".json" : ".bin"));
                for (int k = 0; k < perSource; ++k)
                {
                    var m = new List<byte>(body);
                    for (int n = 1 + Below(3); n > 0; --n)
                    {
                        int at = m.Count == 0 ? 0 : Below(m.Count);
                        switch (Below(5))
                        {
                            case 0: if (m.Count > 0) m[at] = (byte)(m[at] ^ (1 << Below(8))); break;
                            case 1: if (m.Count > 0) m[at] = (byte)Below(256); break;
                            case 2: if (m.Count > 0) m.RemoveAt(at); break;
                            case 3: m.Insert(at, json ? (byte)JsonBytes[Below(JsonBytes.Length)] : (byte)Below(256)); break;
                            default: m.RemoveRange(at, m.Count - at); break;
                        }
                    }
                    var bytes = m.ToArray();
                    string verdict = "ok";
                    try
                    {
                        var msg = decoders[src.Item1](bytes, json);
                        again.Append(Hex(Codec.Encode(msg))).Append(" | ").Append(Codec.EncodeJsonString(msg)).Append('\n');
                        ++decoded;
                    }
                    catch (CodecException e) { verdict = e.CodeName; }
                    catch (Exception e)
                    {
                        Fail("mutant of " + src.Item2 + (json ? ".json" : ".bin") + " (" + Hex(bytes) + "): not a CodecException: " + e);
                        continue;
                    }
                    lines.Append(src.Item1).Append(json ? " json-hex " : " binary ").Append(verdict).Append(' ').Append(Hex(bytes)).Append('\n');
                    ++count;
                }
            }
        }
        File.WriteAllText(dir + "/mutants.txt", lines.ToString());
        File.WriteAllText(dir + "/mutants.cs.txt", again.ToString());
        Console.WriteLine("C#: " + count + " damaged bodies decoded (" + decoded + " still decode), only CodecExceptions");
        return failures == 0 ? 0 : 1;
    }

    // random messages: every field of `everything` random (floats from random bits, integers at
    // and between their limits, strings of any code point, unknown enum values); C++ decodes them
    // (interop check) and must encode them again to the same bytes, binary and JSON
    static uint seed;

    static uint Rand32()
    {
        // mulberry32, as interop.ts
        seed += 0x6d2b79f5;
        uint t = seed;
        t = (t ^ (t >> 15)) * (t | 1);
        t ^= t + (t ^ (t >> 7)) * (t | 61);
        return t ^ (t >> 14);
    }

    static int Below(int n) { return (int)(Rand32() % (uint)n); }

    static long RandomInt(long min, long max)
    {
        int pick = Below(4);
        if (pick == 0) return min;
        if (pick == 1) return max;
        ulong r = (ulong)Rand32() << 32 | Rand32();
        ulong span = (ulong)(max - min) + 1;
        return span == 0 ? (long)r : min + (long)((pick == 2 ? r % 1000 : r) % span);
    }

    static ulong RandomU64()
    {
        int pick = Below(4);
        if (pick == 0) return 0;
        if (pick == 1) return ulong.MaxValue;
        ulong r = (ulong)Rand32() << 32 | Rand32();
        return pick == 2 ? r % 1000 : r;
    }

    static string RandomString()
    {
        var sb = new StringBuilder();
        for (int i = Below(8); i > 0; --i)
        {
            int kind = Below(4);
            int cp = kind == 0 ? Below(0x80) : kind == 1 ? 0x80 + Below(0x800 - 0x80) : kind == 2 ? 0xe000 + Below(0x2000) : 0x10000 + Below(0x100000);
            sb.Append(char.ConvertFromUtf32(cp));
        }
        return sb.ToString();
    }

    /// <summary>A value as games have them (12.345, -0.25, 1e6): random bits are mostly huge or
    /// tiny, and the float formatter has a fast path for the usual magnitudes.</summary>
    static double GameValue()
    {
        return (int)Rand32() / Math.Pow(10, Below(12)) * (Below(4) == 0 ? Math.Pow(2, Below(40)) : 1);
    }

    static object RandomValue(Type t, int depth)
    {
        if (t == typeof(bool)) return Below(2) == 1;
        if (t == typeof(sbyte)) return (sbyte)RandomInt(sbyte.MinValue, sbyte.MaxValue);
        if (t == typeof(short)) return (short)RandomInt(short.MinValue, short.MaxValue);
        if (t == typeof(int)) return (int)RandomInt(int.MinValue, int.MaxValue);
        if (t == typeof(long)) return RandomInt(long.MinValue, long.MaxValue);
        if (t == typeof(byte)) return (byte)RandomInt(0, byte.MaxValue);
        if (t == typeof(ushort)) return (ushort)RandomInt(0, ushort.MaxValue);
        if (t == typeof(uint)) return (uint)RandomInt(0, uint.MaxValue);
        if (t == typeof(ulong)) return RandomU64();
        if (t == typeof(float))
        {
            // NaN canonical: payloads do not travel in JSON ("NaN")
            float f = Below(2) == 0 ? Floats.FromBits(Rand32()) : (float)GameValue();
            return Below(8) == 0 ? 0f : float.IsNaN(f) ? Floats.NaN32 : f;
        }
        if (t == typeof(double))
        {
            double d = Below(2) == 0 ? BitConverter.Int64BitsToDouble((long)((ulong)Rand32() << 32 | Rand32())) : GameValue();
            return Below(8) == 0 ? 0.0 : double.IsNaN(d) ? Floats.NaN : d;
        }
        if (t == typeof(string)) return RandomString();
        if (t == typeof(byte[])) { var b = new byte[Below(6)]; for (int i = 0; i < b.Length; ++i) b[i] = (byte)Below(256); return b; }
        if (t.IsEnum)
        {
            var values = Enum.GetValues(t);
            return Below(4) == 0 ? Enum.ToObject(t, (int)RandomInt(int.MinValue, int.MaxValue)) : values.GetValue(Below(values.Length));
        }
        if (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(Nullable<>))
            return Below(2) == 0 ? null : RandomValue(t.GetGenericArguments()[0], depth);
        if (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(List<>))
        {
            var list = (System.Collections.IList)Activator.CreateInstance(t);
            if (depth <= 3) for (int i = Below(4); i > 0; --i) list.Add(RandomValue(t.GetGenericArguments()[1 - 1], depth));
            return list;
        }
        if (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(Dictionary<,>))
        {
            var map = (System.Collections.IDictionary)Activator.CreateInstance(t);
            for (int i = Below(4); i > 0; --i) map[RandomString()] = RandomValue(t.GetGenericArguments()[1], depth);
            return map;
        }
        if (typeof(IMessage).IsAssignableFrom(t)) return RandomMessage(t, depth + 1);
        throw new InvalidOperationException("no random " + t);
    }

    static object RandomMessage(Type t, int depth)
    {
        var m = Activator.CreateInstance(t);
        foreach (var f in t.GetFields(BindingFlags.Public | BindingFlags.Instance))
        {
            bool optionalRef = f.Name == "s" || f.Name == "raw" || f.Name == "at";
            object v = RandomValue(f.FieldType, depth);
            // optional strings, bytes and structs (of `optionals`) are absent half the time
            if (t == typeof(optionals) && optionalRef && Below(2) == 0) v = null;
            f.SetValue(m, v);
        }
        return m;
    }

    static void Random(string dir)
    {
        string env = Environment.GetEnvironmentVariable("EMBER_CS_SEED");
        seed = env != null ? uint.Parse(env) : 20261206u;
        uint first = seed;
        const int count = 1000;
        var bin = new MemoryStream();
        var json = new MemoryStream();
        for (int i = 0; i < count; ++i)
        {
            var m = (everything)RandomMessage(typeof(everything), 0);
            var b = Codec.Encode(m);
            var j = Codec.EncodeJson(m);
            foreach (var rec in new[] { Tuple.Create(bin, b), Tuple.Create(json, j) })
            {
                rec.Item1.Write(BitConverter.GetBytes((uint)rec.Item2.Length), 0, 4); // little-endian on every Mono target
                rec.Item1.Write(rec.Item2, 0, rec.Item2.Length);
            }
            // and C# reads its own encodings back to the same bytes
            if (!Same(Codec.Encode(Codec.Decode<everything>(b)), b) || !Same(Codec.EncodeJson(Codec.DecodeJson<everything>(j)), j))
                Fail("random message " + i + " (seed " + first + "): C# does not read its own encoding back");
        }
        File.WriteAllBytes(dir + "/random.bin.rec", bin.ToArray());
        File.WriteAllBytes(dir + "/random.json.rec", json.ToArray());
        Console.WriteLine("C#: " + count + " random messages (seed " + first + ", EMBER_CS_SEED) written for C++");
    }
}
