// ember's C# runtime, part 1: the binary and JSON body encodings of PROTOCOL.md §8, byte for
// byte as ember's C++ codecs (include/ember/codec/) write them, and refusing what they refuse.
// `ember-codegen --lang cs` copies this file (and EmberClient.cs) next to the NAME.cs it
// generates. A generated message class hands each of its fields to a field type object of this
// file (`Types.U32`, `Types.List(Types.Struct<point>())`, ...), which reads and writes it, as the
// C++ codec walks its generated tables. Unity's profile: .NET Standard 2.1 and C# 7.2 (what
// Mono's mcs compiles), nothing beyond the base library (JSON and float formatting are done
// here, not by System.Text.Json, which Unity lacks, nor by double.ToString, which is not the
// shortest round trip on Mono and .NET Framework).
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Numerics;
using System.Text;

namespace Ember
{
    /// <summary>The `ember::errc` values the C++ decoders report (PROTOCOL.md §8, "What decoders refuse").</summary>
    public enum CodecError { TruncatedBody, MalformedBody, WrongWireType, ValueOutOfRange, NestingTooDeep }

    /// <summary>What a decoder throws on a body the C++ decoder refuses, and an encoder on a value
    /// no C++ field could hold (an enum outside int32 cannot happen in C#; a null in a list can).
    /// `CodeName` is the C++ error's name (`truncated_body`, ...).</summary>
    public sealed class CodecException : Exception
    {
        public CodecError Code { get; }
        public CodecException(CodecError code, string detail) : base(NameOf(code) + ": " + detail) { Code = code; }
        public string CodeName { get { return NameOf(Code); } }
        public static string NameOf(CodecError c)
        {
            switch (c)
            {
                case CodecError.TruncatedBody: return "truncated_body";
                case CodecError.MalformedBody: return "malformed_body";
                case CodecError.WrongWireType: return "wrong_wire_type";
                case CodecError.ValueOutOfRange: return "value_out_of_range";
                default: return "nesting_too_deep";
            }
        }
    }

    /// <summary>A message of a schema (generated classes implement it; use `Codec` to encode and
    /// decode one). The methods are the generated per-field code, not for direct use.</summary>
    public interface IMessage
    {
        void EncodeBinary(BinaryWriter w);
        /// <summary>Reads field `tag` (wire type `wt`); false if the message has no such tag.</summary>
        bool DecodeBinaryField(BinaryReader r, uint tag, int wt, int depth);
        void EncodeJson(JsonWriter w);
        /// <summary>Reads the value of key `key`; false if the message has no such field.</summary>
        bool DecodeJsonField(string key, JsonValue v, int depth);
    }

    /// <summary>Encoding and decoding of whole bodies.</summary>
    public static class Codec
    {
        /// <summary>ember's limit on structs nested in a message (`ember::codec::max_depth`).</summary>
        public const int MaxDepth = 64;
        /// <summary>simdjson's limit on nested JSON arrays and objects.</summary>
        public const int MaxJsonDepth = 1024;

        /// <summary>The binary body (PROTOCOL.md §8, "Binary").</summary>
        public static byte[] Encode(IMessage m)
        {
            var w = new BinaryWriter();
            m.EncodeBinary(w);
            return w.ToArray();
        }

        /// <summary>Reads a binary body; throws CodecException on what ember's C++ decoder refuses.</summary>
        public static T Decode<T>(byte[] body) where T : IMessage, new()
        {
            return Decode<T>(body, 0, body.Length);
        }

        public static T Decode<T>(byte[] body, int offset, int count) where T : IMessage, new()
        {
            var m = new T();
            DecodeInto(new BinaryReader(body, offset, offset + count), m, 0);
            return m;
        }

        internal static void DecodeInto(BinaryReader r, IMessage m, int depth)
        {
            while (!r.AtEnd)
            {
                int wt;
                uint tag = r.Key(out wt);
                if (!m.DecodeBinaryField(r, tag, wt, depth)) r.Skip(wt);
            }
        }

        /// <summary>The JSON body as ember's C++ encoder writes it, in UTF-8.</summary>
        public static byte[] EncodeJson(IMessage m)
        {
            return Utf8.Encode(EncodeJsonString(m));
        }

        public static string EncodeJsonString(IMessage m)
        {
            var w = new JsonWriter();
            m.EncodeJson(w);
            return w.ToString();
        }

        /// <summary>Reads a JSON body (its UTF-8 bytes); throws CodecException as `Decode`.</summary>
        public static T DecodeJson<T>(byte[] body) where T : IMessage, new()
        {
            return DecodeJson<T>(body, 0, body.Length);
        }

        public static T DecodeJson<T>(byte[] body, int offset, int count) where T : IMessage, new()
        {
            return DecodeJson<T>(Utf8.Decode(body, offset, count, "the JSON body"));
        }

        public static T DecodeJson<T>(string text) where T : IMessage, new()
        {
            var root = JsonValue.Parse(text);
            if (root.Kind != JsonKind.Object) throw new CodecException(CodecError.MalformedBody, "the JSON body is not an object");
            var m = new T();
            ReadJsonInto(root, m, 0, typeof(T).Name);
            return m;
        }

        internal static void ReadJsonInto(JsonValue v, IMessage m, int depth, string name)
        {
            if (depth > MaxDepth) throw new CodecException(CodecError.NestingTooDeep, name + ": structs nested more than " + MaxDepth + " deep");
            if (v.Kind != JsonKind.Object) throw Types.WrongJson(name, v);
            foreach (var kv in v.Members)
            {
                if (kv.Value.Kind == JsonKind.Null) continue; // null is the key being absent
                m.DecodeJsonField(kv.Key, kv.Value, depth); // an unknown key: a newer peer's field
            }
        }

        /// <summary>Encodes in `json` or binary.</summary>
        public static byte[] Encode(IMessage m, bool json) { return json ? EncodeJson(m) : Encode(m); }

        public static T Decode<T>(byte[] body, int offset, int count, bool json) where T : IMessage, new()
        {
            return json ? DecodeJson<T>(body, offset, count) : Decode<T>(body, offset, count);
        }
    }

    // -----------------------------------------------------------------------------------------
    // UTF-8

    public static class Utf8
    {
        // throwOnInvalid: invalid UTF-8 (overlong forms, surrogates, truncated sequences) is refused
        static readonly UTF8Encoding Strict = new UTF8Encoding(false, true);
        // lone surrogates of a C# string become U+FFFD, as JavaScript's TextEncoder does
        static readonly UTF8Encoding Lenient = new UTF8Encoding(false, false);

        public static byte[] Encode(string s) { return Lenient.GetBytes(s); }

        public static string Decode(byte[] b, int offset, int count, string what)
        {
            try { return Strict.GetString(b, offset, count); }
            catch (ArgumentException) { throw new CodecException(CodecError.MalformedBody, what + " is not valid UTF-8"); }
        }
    }

    sealed class Utf8Order : IComparer<string>
    {
        public static readonly Utf8Order Instance = new Utf8Order();
        public int Compare(string a, string b)
        {
            int n = Math.Min(a.Length, b.Length);
            for (int i = 0; i < n; ++i)
            {
                int x = Rank(a[i]), y = Rank(b[i]);
                if (x != y) return x < y ? -1 : 1;
            }
            return a.Length.CompareTo(b.Length);
        }
        // a surrogate (a code point above U+FFFF, UTF-8 f0..f4) sorts after U+E000..U+FFFF (ee..ef)
        static int Rank(char c) { return c >= 0xd800 && c <= 0xdfff ? c + 0x2000 : (c >= 0xe000 ? c - 0x800 : c); }
    }

    // -----------------------------------------------------------------------------------------
    // Binary writer and reader

    public static class WireType
    {
        public const int Varint = 0, Fixed64 = 1, Len = 2, Fixed32 = 5;
    }

    public sealed class BinaryWriter
    {
        byte[] buf = new byte[64];
        public int Pos;

        void Room(int n)
        {
            if (Pos + n <= buf.Length) return;
            int size = buf.Length * 2;
            while (size < Pos + n) size *= 2;
            Array.Resize(ref buf, size);
        }

        public byte[] ToArray()
        {
            var out_ = new byte[Pos];
            Buffer.BlockCopy(buf, 0, out_, 0, Pos);
            return out_;
        }

        public void Byte(byte b) { Room(1); buf[Pos++] = b; }

        public void Varint(ulong v)
        {
            Room(10);
            while (v >= 0x80) { buf[Pos++] = (byte)(v | 0x80); v >>= 7; }
            buf[Pos++] = (byte)v;
        }

        public void Key(uint tag, int wt) { Varint(((ulong)tag << 3) | (uint)wt); }

        public void Fixed32(uint v)
        {
            Room(4);
            for (int i = 0; i < 4; ++i) buf[Pos++] = (byte)(v >> (8 * i));
        }

        public void Fixed64(ulong v)
        {
            Room(8);
            for (int i = 0; i < 8; ++i) buf[Pos++] = (byte)(v >> (8 * i));
        }

        public void Raw(byte[] b)
        {
            Varint((ulong)b.Length);
            Room(b.Length);
            Buffer.BlockCopy(b, 0, buf, Pos, b.Length);
            Pos += b.Length;
        }

        /// <summary>Starts a length-delimited value: one byte kept for its length.</summary>
        public int Begin() { Byte(0); return Pos; }

        /// <summary>Ends the value begun at `start`: writes its length before it.</summary>
        public void End(int start)
        {
            int n = Pos - start;
            if (n < 0x80) { buf[start - 1] = (byte)n; return; }
            int size = 1;
            for (int x = n; x >= 0x80; x >>= 7) ++size;
            Room(size - 1);
            Buffer.BlockCopy(buf, start, buf, start - 1 + size, n);
            int after = Pos + size - 1;
            Pos = start - 1;
            Varint((ulong)n);
            Pos = after;
        }

        internal static int KeyLength(uint tag)
        {
            int n = 1;
            for (ulong k = (ulong)tag << 3; k >= 0x80; k >>= 7) ++n;
            return n;
        }
    }

    public sealed class BinaryReader
    {
        readonly byte[] buf;
        int pos;
        readonly int end;

        public BinaryReader(byte[] buf, int pos, int end) { this.buf = buf; this.pos = pos; this.end = end; }
        public bool AtEnd { get { return pos == end; } }
        public int Remaining { get { return end - pos; } }

        /// <summary>A varint: at most 10 bytes, the tenth 0 or 1.</summary>
        public ulong Varint()
        {
            ulong v = 0;
            for (int i = 0; i < 10; ++i)
            {
                if (pos == end) throw new CodecException(CodecError.TruncatedBody, "the body ends inside a varint");
                byte b = buf[pos++];
                if (i == 9 && b > 1) throw new CodecException(CodecError.MalformedBody, "a varint beyond 64 bits");
                v |= (ulong)(b & 0x7f) << (7 * i);
                if (b < 0x80) return v;
            }
            throw new CodecException(CodecError.MalformedBody, "a varint longer than 10 bytes");
        }

        public uint Key(out int wt)
        {
            ulong k = Varint();
            wt = (int)(k & 7);
            ulong tag = k >> 3;
            if (k > uint.MaxValue) throw new CodecException(CodecError.MalformedBody, "a field key beyond 32 bits");
            if (tag == 0) throw new CodecException(CodecError.MalformedBody, "tag 0");
            if (!(wt == 0 || wt == 1 || wt == 2 || wt == 5)) throw new CodecException(CodecError.MalformedBody, "wire type " + wt);
            return (uint)tag;
        }

        /// <summary>A length, checked against what follows.</summary>
        public int Length()
        {
            ulong n = Varint();
            if (n > (ulong)Remaining) throw new CodecException(CodecError.TruncatedBody, "a length beyond the end of the body");
            return (int)n;
        }

        void Advance(int n)
        {
            if (Remaining < n) throw new CodecException(CodecError.TruncatedBody, "the body ends inside a value");
            pos += n;
        }

        public void Skip(int wt)
        {
            switch (wt)
            {
                case WireType.Varint: Varint(); return;
                case WireType.Fixed64: Advance(8); return;
                case WireType.Fixed32: Advance(4); return;
                default: { int n = Length(); pos += n; return; }
            }
        }

        public uint Fixed32()
        {
            if (Remaining < 4) throw new CodecException(CodecError.TruncatedBody, "the body ends inside an f32");
            uint v = 0;
            for (int i = 0; i < 4; ++i) v |= (uint)buf[pos++] << (8 * i);
            return v;
        }

        public ulong Fixed64()
        {
            if (Remaining < 8) throw new CodecException(CodecError.TruncatedBody, "the body ends inside an f64");
            ulong v = 0;
            for (int i = 0; i < 8; ++i) v |= (ulong)buf[pos++] << (8 * i);
            return v;
        }

        public byte[] Bytes(int n)
        {
            var b = new byte[n];
            Buffer.BlockCopy(buf, pos, b, 0, n);
            pos += n;
            return b;
        }

        public string String(int n, string what)
        {
            var s = Utf8.Decode(buf, pos, n, what);
            pos += n;
            return s;
        }

        public BinaryReader Sub(int n)
        {
            var r = new BinaryReader(buf, pos, pos + n);
            pos += n;
            return r;
        }
    }

    // -----------------------------------------------------------------------------------------
    // Field types: how one field of a type is written and read, binary and JSON

    /// <summary>A field type (what a generated class declares per field).</summary>
    public abstract class FieldType<T>
    {
        /// <summary>The wire type of one value.</summary>
        public abstract int Wire { get; }
        /// <summary>Numbers, bools and enums: lists of them are packed.</summary>
        public virtual bool Packed { get { return false; } }
        /// <summary>A fresh default value (a new object for structs, lists and maps).</summary>
        public abstract T Default();
        /// <summary>Whether a plain (not optional) field holding `v` is left out of binary.</summary>
        public abstract bool IsDefault(T v);
        /// <summary>Writes the value without key (a packed element, or after the key).</summary>
        public abstract void PutValue(BinaryWriter w, T v, string at);
        /// <summary>Reads one value whose wire type was checked; `into` is the struct to merge into.</summary>
        public abstract T GetValue(BinaryReader r, int depth, T into, string at);
        public abstract void WriteJson(JsonWriter w, T v, string at);
        public abstract T ReadJson(JsonValue v, int depth, T into, string at);

        /// <summary>Writes `v` as field `tag`, even at its default (list elements, map entries, optionals).</summary>
        public virtual void Put(BinaryWriter w, uint tag, T v, string at)
        {
            w.Key(tag, Wire);
            PutValue(w, v, at);
        }

        /// <summary>Reads one value of field `tag` at wire type `wt` (checked here).</summary>
        public virtual T Get(BinaryReader r, int wt, int depth, T into, string at)
        {
            if (wt != Wire) throw new CodecException(CodecError.WrongWireType, at + ": wire type " + wt);
            return GetValue(r, depth, into, at);
        }

        /// <summary>A plain field: written unless it holds its default.</summary>
        public virtual void WriteField(BinaryWriter w, uint tag, T v, string at)
        {
            if (!IsDefault(v)) Put(w, tag, v, at);
        }

        public virtual T ReadField(BinaryReader r, int wt, int depth, T v, string at)
        {
            return Get(r, wt, depth, v, at);
        }

        /// <summary>`"name":value`, or nothing (an absent optional).</summary>
        public virtual void WriteJsonField(JsonWriter w, string name, T v, string at)
        {
            w.Key(name);
            WriteJson(w, v, at);
        }

        public virtual T ReadJsonField(JsonValue v, int depth, T into, string at)
        {
            return ReadJson(v, depth, into, at);
        }
    }

    /// <summary>The field types of schema types.</summary>
    public static class Types
    {
        public static readonly FieldType<bool> Bool = new BoolType();
        public static readonly FieldType<sbyte> I8 = new IntType<sbyte>(sbyte.MinValue, sbyte.MaxValue, v => v, v => (sbyte)v);
        public static readonly FieldType<short> I16 = new IntType<short>(short.MinValue, short.MaxValue, v => v, v => (short)v);
        public static readonly FieldType<int> I32 = new IntType<int>(int.MinValue, int.MaxValue, v => v, v => (int)v);
        public static readonly FieldType<long> I64 = new I64Type();
        public static readonly FieldType<byte> U8 = new UIntType<byte>(byte.MaxValue, v => v, v => (byte)v);
        public static readonly FieldType<ushort> U16 = new UIntType<ushort>(ushort.MaxValue, v => v, v => (ushort)v);
        public static readonly FieldType<uint> U32 = new UIntType<uint>(uint.MaxValue, v => v, v => (uint)v);
        public static readonly FieldType<ulong> U64 = new UIntType<ulong>(ulong.MaxValue, v => v, v => v);
        public static readonly FieldType<float> F32 = new F32Type();
        public static readonly FieldType<double> F64 = new F64Type();
        public static readonly FieldType<string> String = new StringType();
        public static readonly FieldType<byte[]> Bytes = new BytesType();

        public static FieldType<T> Struct<T>() where T : class, IMessage, new() { return StructType<T>.Instance; }
        public static FieldType<List<T>> List<T>(FieldType<T> of) { return new ListType<T>(of); }
        public static FieldType<Dictionary<string, T>> Map<T>(FieldType<T> of) { return new MapType<T>(of); }
        /// <summary>optional&lt;T&gt; of a number, bool or enum: `T?`.</summary>
        public static FieldType<T?> Optional<T>(FieldType<T> of) where T : struct { return new OptionalValue<T>(of); }
        /// <summary>optional&lt;T&gt; of a string, bytes or struct: null when absent.</summary>
        public static FieldType<T> OptionalRef<T>(FieldType<T> of) where T : class { return new OptionalRef<T>(of); }

        internal static CodecException OutOfRange(string at, string what)
        {
            return new CodecException(CodecError.ValueOutOfRange, at + ": " + what);
        }

        internal static CodecException WrongJson(string at, JsonValue v)
        {
            return new CodecException(CodecError.WrongWireType, at + ": a JSON " + v.Kind.ToString().ToLowerInvariant() + " where it does not belong");
        }

        internal static CodecException Malformed(string what)
        {
            return new CodecException(CodecError.MalformedBody, what);
        }

        static readonly BigInteger I64Min = long.MinValue, I64Max = long.MaxValue, U64Max = ulong.MaxValue;

        /// <summary>An integer of a JSON value, as ember's `json::get_int` takes it (before the range
        /// check of its field).</summary>
        internal static BigInteger JsonInteger(JsonValue v, bool signed, string at)
        {
            if (v.Kind == JsonKind.Number)
            {
                if (v.Integer) return BigInteger.Parse(v.Text, CultureInfo.InvariantCulture); // within 64 bits: the parser checked
                double d = Floats.ParseDouble(v.Text);
                if (double.IsInfinity(d) || d != Math.Truncate(d)) throw OutOfRange(at, v.Text + " is not an integer");
                if (d >= 18446744073709551616.0 || d < -9223372036854775808.0) throw OutOfRange(at, v.Text + " does not fit in 64 bits");
                return new BigInteger(d);
            }
            if (v.Kind == JsonKind.String)
            {
                string s = v.Text;
                int i = signed && s.StartsWith("-", StringComparison.Ordinal) ? 1 : 0;
                if (i == s.Length) throw Malformed(at + ": \"" + s + "\" is not a number");
                for (int k = i; k < s.Length; ++k)
                    if (s[k] < '0' || s[k] > '9') throw Malformed(at + ": \"" + s + "\" is not a number");
                var b = BigInteger.Parse(s, CultureInfo.InvariantCulture);
                if (signed ? b < I64Min || b > I64Max : b > U64Max) throw OutOfRange(at, s + " does not fit in 64 bits");
                return b;
            }
            throw WrongJson(at, v);
        }

        internal static double JsonF64(JsonValue v, string at)
        {
            if (v.Kind == JsonKind.Number)
            {
                // an integer is read as one (so -0 is 0), then rounded to the nearest double, as simdjson
                if (v.Integer) return Floats.ParseDouble(v.Text.StartsWith("-0", StringComparison.Ordinal) && v.Text.Length == 2 ? "0" : v.Text);
                return Floats.ParseDouble(v.Text);
            }
            if (v.Kind == JsonKind.String)
            {
                string s = v.Text;
                if (s == "NaN") return Floats.NaN; // C++'s quiet_NaN(), not C#'s double.NaN (its sign bit is set)
                if (s == "Infinity") return double.PositiveInfinity;
                if (s == "-Infinity") return double.NegativeInfinity;
                if (!Floats.IsNumericString(s)) throw Malformed(at + ": \"" + s + "\" is not a number");
                double d = Floats.ParseDouble(s);
                if (double.IsInfinity(d)) throw OutOfRange(at, s + " is beyond a double");
                return d;
            }
            throw WrongJson(at, v);
        }
    }

    sealed class BoolType : FieldType<bool>
    {
        public override int Wire { get { return WireType.Varint; } }
        public override bool Packed { get { return true; } }
        public override bool Default() { return false; }
        public override bool IsDefault(bool v) { return !v; }
        public override void PutValue(BinaryWriter w, bool v, string at) { w.Byte(v ? (byte)1 : (byte)0); }
        public override bool GetValue(BinaryReader r, int depth, bool into, string at)
        {
            ulong v = r.Varint();
            if (v > 1) throw Types.OutOfRange(at, "a bool other than 0 or 1");
            return v == 1;
        }
        public override void WriteJson(JsonWriter w, bool v, string at) { w.Raw(v ? "true" : "false"); }
        public override bool ReadJson(JsonValue v, int depth, bool into, string at)
        {
            if (v.Kind != JsonKind.Bool) throw Types.WrongJson(at, v);
            return v.Bool;
        }
    }

    /// <summary>i8, i16, i32: zigzag varints.</summary>
    sealed class IntType<T> : FieldType<T> where T : struct
    {
        readonly long min, max;
        readonly Func<T, long> to;
        readonly Func<long, T> from;
        public IntType(long min, long max, Func<T, long> to, Func<long, T> from) { this.min = min; this.max = max; this.to = to; this.from = from; }
        public override int Wire { get { return WireType.Varint; } }
        public override bool Packed { get { return true; } }
        public override T Default() { return from(0); }
        public override bool IsDefault(T v) { return to(v) == 0; }
        public override void PutValue(BinaryWriter w, T v, string at)
        {
            long x = to(v);
            w.Varint((ulong)((x << 1) ^ (x >> 63)));
        }
        public override T GetValue(BinaryReader r, int depth, T into, string at)
        {
            ulong u = r.Varint();
            long v = (long)(u >> 1) ^ -(long)(u & 1);
            // as C++: the zigzag of a value beyond int32 does not fit
            if (u > uint.MaxValue || v < min || v > max) throw Types.OutOfRange(at, v + " does not fit in " + min + ".." + max);
            return from(v);
        }
        public override void WriteJson(JsonWriter w, T v, string at) { w.Raw(to(v).ToString(CultureInfo.InvariantCulture)); }
        public override T ReadJson(JsonValue v, int depth, T into, string at)
        {
            var b = Types.JsonInteger(v, true, at);
            if (b < min || b > max) throw Types.OutOfRange(at, b + " does not fit in " + min + ".." + max);
            return from((long)b);
        }
    }

    sealed class I64Type : FieldType<long>
    {
        public override int Wire { get { return WireType.Varint; } }
        public override bool Packed { get { return true; } }
        public override long Default() { return 0; }
        public override bool IsDefault(long v) { return v == 0; }
        public override void PutValue(BinaryWriter w, long x, string at) { w.Varint((ulong)((x << 1) ^ (x >> 63))); }
        public override long GetValue(BinaryReader r, int depth, long into, string at)
        {
            ulong u = r.Varint();
            return (long)(u >> 1) ^ -(long)(u & 1);
        }
        public override void WriteJson(JsonWriter w, long v, string at) { w.Raw(v.ToString(CultureInfo.InvariantCulture)); }
        public override long ReadJson(JsonValue v, int depth, long into, string at)
        {
            var b = Types.JsonInteger(v, true, at);
            if (b > long.MaxValue) throw Types.OutOfRange(at, b + " does not fit in an i64");
            return (long)b;
        }
    }

    /// <summary>u8 ... u64: varints.</summary>
    sealed class UIntType<T> : FieldType<T> where T : struct
    {
        readonly ulong max;
        readonly Func<T, ulong> to;
        readonly Func<ulong, T> from;
        public UIntType(ulong max, Func<T, ulong> to, Func<ulong, T> from) { this.max = max; this.to = to; this.from = from; }
        public override int Wire { get { return WireType.Varint; } }
        public override bool Packed { get { return true; } }
        public override T Default() { return from(0); }
        public override bool IsDefault(T v) { return to(v) == 0; }
        public override void PutValue(BinaryWriter w, T v, string at) { w.Varint(to(v)); }
        public override T GetValue(BinaryReader r, int depth, T into, string at)
        {
            ulong v = r.Varint();
            if (v > max) throw Types.OutOfRange(at, v + " does not fit in 0.." + max);
            return from(v);
        }
        public override void WriteJson(JsonWriter w, T v, string at) { w.Raw(to(v).ToString(CultureInfo.InvariantCulture)); }
        public override T ReadJson(JsonValue v, int depth, T into, string at)
        {
            var b = Types.JsonInteger(v, false, at);
            if (b < 0 || b > max) throw Types.OutOfRange(at, b + " does not fit in 0.." + max);
            return from((ulong)b);
        }
    }

    sealed class F32Type : FieldType<float>
    {
        public override int Wire { get { return WireType.Fixed32; } }
        public override bool Packed { get { return true; } }
        public override float Default() { return 0; }
        public override bool IsDefault(float v) { return Floats.Bits(v) == 0; } // +0.0 only: -0.0 travels
        public override void PutValue(BinaryWriter w, float v, string at) { w.Fixed32(Floats.Bits(v)); }
        public override float GetValue(BinaryReader r, int depth, float into, string at) { return Floats.FromBits(r.Fixed32()); }
        public override void WriteJson(JsonWriter w, float v, string at) { w.Raw(Floats.FormatF32(v)); }
        public override float ReadJson(JsonValue v, int depth, float into, string at)
        {
            double d = Types.JsonF64(v, at);
            float f = (float)d;
            if (!double.IsInfinity(d) && !double.IsNaN(d) && float.IsInfinity(f)) throw Types.OutOfRange(at, d + " is beyond a float");
            return f;
        }
    }

    sealed class F64Type : FieldType<double>
    {
        public override int Wire { get { return WireType.Fixed64; } }
        public override bool Packed { get { return true; } }
        public override double Default() { return 0; }
        public override bool IsDefault(double v) { return BitConverter.DoubleToInt64Bits(v) == 0; }
        public override void PutValue(BinaryWriter w, double v, string at) { w.Fixed64((ulong)BitConverter.DoubleToInt64Bits(v)); }
        public override double GetValue(BinaryReader r, int depth, double into, string at) { return BitConverter.Int64BitsToDouble((long)r.Fixed64()); }
        public override void WriteJson(JsonWriter w, double v, string at) { w.Raw(Floats.FormatF64(v)); }
        public override double ReadJson(JsonValue v, int depth, double into, string at) { return Types.JsonF64(v, at); }
    }

    sealed class StringType : FieldType<string>
    {
        public override int Wire { get { return WireType.Len; } }
        public override string Default() { return ""; }
        public override bool IsDefault(string v) { return string.IsNullOrEmpty(v); }
        public override void PutValue(BinaryWriter w, string v, string at) { w.Raw(Utf8.Encode(v ?? "")); }
        public override string GetValue(BinaryReader r, int depth, string into, string at) { return r.String(r.Length(), at + ": the string"); }
        public override void WriteJson(JsonWriter w, string v, string at) { w.String(v ?? ""); }
        public override string ReadJson(JsonValue v, int depth, string into, string at)
        {
            if (v.Kind != JsonKind.String) throw Types.WrongJson(at, v);
            return v.Text;
        }
    }

    sealed class BytesType : FieldType<byte[]>
    {
        static readonly byte[] Empty = new byte[0];
        public override int Wire { get { return WireType.Len; } }
        public override byte[] Default() { return Empty; }
        public override bool IsDefault(byte[] v) { return v == null || v.Length == 0; }
        public override void PutValue(BinaryWriter w, byte[] v, string at) { w.Raw(v ?? Empty); }
        public override byte[] GetValue(BinaryReader r, int depth, byte[] into, string at) { return r.Bytes(r.Length()); }
        public override void WriteJson(JsonWriter w, byte[] v, string at) { w.Raw("\"" + Convert.ToBase64String(v ?? Empty) + "\""); }
        public override byte[] ReadJson(JsonValue v, int depth, byte[] into, string at)
        {
            if (v.Kind != JsonKind.String) throw Types.WrongJson(at, v);
            var b = Base64.Decode(v.Text);
            if (b == null) throw Types.Malformed(at + ": bad base64");
            return b;
        }
    }

    /// <summary>An enum `E` (declared `: int`): values the schema does not name stay numbers.</summary>
    public sealed class EnumType<E> : FieldType<E> where E : struct
    {
        readonly string name;
        readonly Func<E, int> to;
        readonly Func<int, E> from;
        readonly Dictionary<int, string> byValue = new Dictionary<int, string>();
        readonly Dictionary<string, int> byName = new Dictionary<string, int>(StringComparer.Ordinal);

        public EnumType(string name, Func<E, int> to, Func<int, E> from, string[] names, int[] values)
        {
            this.name = name; this.to = to; this.from = from;
            for (int i = 0; i < names.Length; ++i) { byValue[values[i]] = names[i]; byName[names[i]] = values[i]; }
        }
        /// <summary>The schema's name of `v`, or null for a value it does not name.</summary>
        public string NameOf(E v) { string n; return byValue.TryGetValue(to(v), out n) ? n : null; }
        public override int Wire { get { return WireType.Varint; } }
        public override bool Packed { get { return true; } }
        public override E Default() { return from(0); }
        public override bool IsDefault(E v) { return to(v) == 0; }
        // sign-extended to 64 bits, as protobuf writes enums
        public override void PutValue(BinaryWriter w, E v, string at) { w.Varint((ulong)(long)to(v)); }
        public override E GetValue(BinaryReader r, int depth, E into, string at)
        {
            long v = (long)r.Varint();
            if (v < int.MinValue || v > int.MaxValue) throw Types.OutOfRange(at, "an enum value outside int32");
            return from((int)v);
        }
        public override void WriteJson(JsonWriter w, E v, string at)
        {
            string n;
            if (byValue.TryGetValue(to(v), out n)) w.String(n);
            else w.Raw(to(v).ToString(CultureInfo.InvariantCulture));
        }
        public override E ReadJson(JsonValue v, int depth, E into, string at)
        {
            if (v.Kind == JsonKind.String)
            {
                int e;
                if (!byName.TryGetValue(v.Text, out e)) throw Types.OutOfRange(at, "'" + v.Text + "' is not a value of " + name);
                return from(e);
            }
            if (v.Kind != JsonKind.Number) throw Types.WrongJson(at, v);
            var b = Types.JsonInteger(v, true, at);
            if (b < int.MinValue || b > int.MaxValue) throw Types.OutOfRange(at, b + " is outside int32");
            return from((int)b);
        }
    }

    sealed class StructType<T> : FieldType<T> where T : class, IMessage, new()
    {
        public static readonly StructType<T> Instance = new StructType<T>();
        public override int Wire { get { return WireType.Len; } }
        public override T Default() { return new T(); }
        public override bool IsDefault(T v) { return v == null; }
        public override void PutValue(BinaryWriter w, T v, string at)
        {
            int start = w.Begin();
            if (v != null) v.EncodeBinary(w);
            w.End(start);
        }
        public override T Get(BinaryReader r, int wt, int depth, T into, string at)
        {
            // as ember's binary_reader::enter: the depth is checked before the wire type
            if (depth >= Codec.MaxDepth) throw new CodecException(CodecError.NestingTooDeep, at + ": structs nested more than " + Codec.MaxDepth + " deep");
            return base.Get(r, wt, depth, into, at);
        }
        public override T GetValue(BinaryReader r, int depth, T into, string at)
        {
            var sub = r.Sub(r.Length());
            var m = into ?? new T();
            Codec.DecodeInto(sub, m, depth + 1);
            return m;
        }
        /// <summary>A struct whose own encoding is empty is not written.</summary>
        public override void WriteField(BinaryWriter w, uint tag, T v, string at)
        {
            if (v == null) return;
            int keyAt = w.Pos;
            w.Key(tag, WireType.Len);
            int start = w.Begin();
            v.EncodeBinary(w);
            if (w.Pos == start) w.Pos = keyAt;
            else w.End(start);
        }
        public override void WriteJson(JsonWriter w, T v, string at)
        {
            if (v == null) v = new T();
            v.EncodeJson(w);
        }
        public override T ReadJson(JsonValue v, int depth, T into, string at)
        {
            var m = into ?? new T();
            Codec.ReadJsonInto(v, m, depth + 1, at);
            return m;
        }
    }

    sealed class ListType<T> : FieldType<List<T>>
    {
        readonly FieldType<T> of;
        public ListType(FieldType<T> of) { this.of = of; }
        public override int Wire { get { return WireType.Len; } }
        public override List<T> Default() { return new List<T>(); }
        public override bool IsDefault(List<T> v) { return v == null || v.Count == 0; }
        public override void PutValue(BinaryWriter w, List<T> v, string at) { throw new InvalidOperationException("ember: a list inside a container"); }
        public override List<T> GetValue(BinaryReader r, int depth, List<T> into, string at) { throw new InvalidOperationException("ember: a list inside a container"); }

        public override void WriteField(BinaryWriter w, uint tag, List<T> v, string at)
        {
            if (v == null || v.Count == 0) return;
            if (of.Packed)
            {
                w.Key(tag, WireType.Len);
                int start = w.Begin();
                foreach (var x in v) of.PutValue(w, x, at);
                w.End(start);
                return;
            }
            foreach (var x in v)
            {
                if (x == null) throw Types.OutOfRange(at, "a null element");
                of.Put(w, tag, x, at);
            }
        }

        public override List<T> ReadField(BinaryReader r, int wt, int depth, List<T> list, string at)
        {
            if (list == null) list = new List<T>();
            if (!of.Packed) { list.Add(of.Get(r, wt, depth, default(T), at)); return list; }
            if (wt == of.Wire) { list.Add(of.GetValue(r, depth, default(T), at)); return list; }
            if (wt != WireType.Len) throw new CodecException(CodecError.WrongWireType, at + ": wire type " + wt);
            var packed = r.Sub(r.Length());
            if (of.Wire != WireType.Varint)
            {
                int size = of.Wire == WireType.Fixed32 ? 4 : 8;
                if (packed.Remaining % size != 0)
                    throw new CodecException(CodecError.MalformedBody, at + ": a packed list of " + size + "-byte values of " + packed.Remaining + " bytes");
            }
            while (!packed.AtEnd)
            {
                try { list.Add(of.GetValue(packed, depth, default(T), at)); }
                catch (CodecException e)
                {
                    // a packed run that ends inside a value is malformed, not a truncated body
                    if (e.Code == CodecError.TruncatedBody) throw new CodecException(CodecError.MalformedBody, at + ": a packed list ends inside a value");
                    throw;
                }
            }
            return list;
        }

        public override void WriteJson(JsonWriter w, List<T> v, string at)
        {
            w.Raw("[");
            if (v != null)
            {
                for (int i = 0; i < v.Count; ++i)
                {
                    if (i > 0) w.Raw(",");
                    if (v[i] == null) throw Types.OutOfRange(at, "a null element");
                    of.WriteJson(w, v[i], at);
                }
            }
            w.Raw("]");
        }

        public override List<T> ReadJson(JsonValue v, int depth, List<T> into, string at)
        {
            if (v.Kind != JsonKind.Array) throw Types.WrongJson(at, v);
            var list = into ?? new List<T>();
            foreach (var x in v.Elements)
            {
                if (x.Kind == JsonKind.Null) throw Types.WrongJson(at, x);
                list.Add(of.ReadJson(x, depth, default(T), at));
            }
            return list;
        }
    }

    sealed class MapType<T> : FieldType<Dictionary<string, T>>
    {
        readonly FieldType<T> of;
        public MapType(FieldType<T> of) { this.of = of; }
        public override int Wire { get { return WireType.Len; } }
        public override Dictionary<string, T> Default() { return new Dictionary<string, T>(); }
        public override bool IsDefault(Dictionary<string, T> v) { return v == null || v.Count == 0; }
        public override void PutValue(BinaryWriter w, Dictionary<string, T> v, string at) { throw new InvalidOperationException("ember: a map inside a container"); }
        public override Dictionary<string, T> GetValue(BinaryReader r, int depth, Dictionary<string, T> into, string at) { throw new InvalidOperationException("ember: a map inside a container"); }

        static List<KeyValuePair<string, T>> Sorted(Dictionary<string, T> v)
        {
            var entries = new List<KeyValuePair<string, T>>(v);
            entries.Sort((a, b) => Utf8Order.Instance.Compare(a.Key, b.Key));
            return entries;
        }

        public override void WriteField(BinaryWriter w, uint tag, Dictionary<string, T> v, string at)
        {
            if (v == null || v.Count == 0) return;
            foreach (var e in Sorted(v))
            {
                if (e.Value == null) throw Types.OutOfRange(at, "a null value");
                w.Key(tag, WireType.Len);
                int start = w.Begin();
                Types.String.Put(w, 1, e.Key, at);
                of.Put(w, 2, e.Value, at);
                w.End(start);
            }
        }

        public override Dictionary<string, T> ReadField(BinaryReader r, int wt, int depth, Dictionary<string, T> map, string at)
        {
            if (map == null) map = new Dictionary<string, T>();
            if (wt != WireType.Len) throw new CodecException(CodecError.WrongWireType, at + ": wire type " + wt);
            var e = r.Sub(r.Length());
            string key = "";
            T value = of.Default();
            while (!e.AtEnd)
            {
                int ewt;
                uint etag = e.Key(out ewt);
                if (etag == 1) key = Types.String.Get(e, ewt, depth, null, at);
                else if (etag == 2) value = of.Get(e, ewt, depth, value, at);
                else e.Skip(ewt);
            }
            map[key] = value;
            return map;
        }

        public override void WriteJson(JsonWriter w, Dictionary<string, T> v, string at)
        {
            w.Raw("{");
            if (v != null)
            {
                bool first = true;
                foreach (var e in Sorted(v))
                {
                    if (!first) w.Raw(",");
                    first = false;
                    if (e.Value == null) throw Types.OutOfRange(at, "a null value");
                    w.String(e.Key);
                    w.Raw(":");
                    of.WriteJson(w, e.Value, at);
                }
            }
            w.Raw("}");
        }

        public override Dictionary<string, T> ReadJson(JsonValue v, int depth, Dictionary<string, T> into, string at)
        {
            if (v.Kind != JsonKind.Object) throw Types.WrongJson(at, v);
            var map = into ?? new Dictionary<string, T>();
            foreach (var kv in v.Members)
            {
                if (kv.Value.Kind == JsonKind.Null) throw Types.WrongJson(at, kv.Value);
                map[kv.Key] = of.ReadJson(kv.Value, depth, default(T), at);
            }
            return map;
        }
    }

    sealed class OptionalValue<T> : FieldType<T?> where T : struct
    {
        readonly FieldType<T> of;
        public OptionalValue(FieldType<T> of) { this.of = of; }
        public override int Wire { get { return of.Wire; } }
        public override T? Default() { return null; }
        public override bool IsDefault(T? v) { return !v.HasValue; }
        public override void PutValue(BinaryWriter w, T? v, string at) { of.PutValue(w, v.Value, at); }
        public override T? GetValue(BinaryReader r, int depth, T? into, string at) { return of.GetValue(r, depth, default(T), at); }
        public override void WriteField(BinaryWriter w, uint tag, T? v, string at) { if (v.HasValue) of.Put(w, tag, v.Value, at); }
        public override T? ReadField(BinaryReader r, int wt, int depth, T? v, string at) { return of.Get(r, wt, depth, default(T), at); }
        public override void WriteJson(JsonWriter w, T? v, string at) { of.WriteJson(w, v.Value, at); }
        public override void WriteJsonField(JsonWriter w, string name, T? v, string at)
        {
            if (!v.HasValue) return;
            w.Key(name);
            of.WriteJson(w, v.Value, at);
        }
        public override T? ReadJson(JsonValue v, int depth, T? into, string at) { return of.ReadJson(v, depth, default(T), at); }
    }

    sealed class OptionalRef<T> : FieldType<T> where T : class
    {
        readonly FieldType<T> of;
        public OptionalRef(FieldType<T> of) { this.of = of; }
        public override int Wire { get { return of.Wire; } }
        public override T Default() { return null; }
        public override bool IsDefault(T v) { return v == null; }
        public override void PutValue(BinaryWriter w, T v, string at) { of.PutValue(w, v, at); }
        public override T GetValue(BinaryReader r, int depth, T into, string at) { return of.GetValue(r, depth, into, at); }
        // written whenever present, even at its default (a struct too: present-empty is `key 00`)
        public override void WriteField(BinaryWriter w, uint tag, T v, string at) { if (v != null) of.Put(w, tag, v, at); }
        // an optional struct met twice merges, as C++ (binary)
        public override T ReadField(BinaryReader r, int wt, int depth, T v, string at) { return of.Get(r, wt, depth, v, at); }
        public override void WriteJson(JsonWriter w, T v, string at) { of.WriteJson(w, v, at); }
        public override void WriteJsonField(JsonWriter w, string name, T v, string at)
        {
            if (v == null) return;
            w.Key(name);
            of.WriteJson(w, v, at);
        }
        // JSON: an optional struct starts afresh (C++ emplace())
        public override T ReadJson(JsonValue v, int depth, T into, string at) { return of.ReadJson(v, depth, null, at); }
    }

    // -----------------------------------------------------------------------------------------
    // Base64 (standard alphabet; ember's base64_decode: padding optional, leftover bits zero)

    public static class Base64
    {
        const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

        public static byte[] Decode(string s)
        {
            if (s.Length % 4 == 0 && s.Length > 0)
            {
                if (s.EndsWith("=", StringComparison.Ordinal)) s = s.Substring(0, s.Length - 1);
                if (s.EndsWith("=", StringComparison.Ordinal)) s = s.Substring(0, s.Length - 1);
            }
            if (s.Length % 4 == 1) return null;
            var out_ = new byte[s.Length * 6 / 8];
            int acc = 0, bits = 0, n = 0;
            foreach (char c in s)
            {
                int v = Alphabet.IndexOf(c);
                if (v < 0) return null;
                acc = ((acc << 6) | v) & 0xffffff;
                bits += 6;
                if (bits >= 8) { bits -= 8; out_[n++] = (byte)(acc >> bits); }
            }
            if ((acc & ((1 << bits) - 1)) != 0) return null;
            return out_;
        }
    }

    // -----------------------------------------------------------------------------------------
    // JSON writer

    public sealed class JsonWriter
    {
        readonly StringBuilder sb = new StringBuilder();
        bool first = true;

        public void Raw(string s) { sb.Append(s); }
        public void BeginObject() { sb.Append('{'); first = true; }
        public void EndObject() { sb.Append('}'); first = false; }
        public void Key(string name)
        {
            if (!first) sb.Append(',');
            first = false;
            sb.Append('"').Append(name).Append("\":");
            // the value that follows may be an object: its own keys start afresh
        }

        /// <summary>A string as ember's JSON writer quotes it: `"` and `\` escaped, control
        /// characters as \n, \t, \r, \b, \f or \u00xx, everything else as it is.</summary>
        public void String(string s)
        {
            sb.Append('"');
            foreach (char c in s)
            {
                switch (c)
                {
                    case '"': sb.Append("\\\""); break;
                    case '\\': sb.Append("\\\\"); break;
                    case '\n': sb.Append("\\n"); break;
                    case '\r': sb.Append("\\r"); break;
                    case '\t': sb.Append("\\t"); break;
                    case '\b': sb.Append("\\b"); break;
                    case '\f': sb.Append("\\f"); break;
                    default:
                        if (c < 0x20) sb.Append("\\u00").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                        else sb.Append(c);
                        break;
                }
            }
            sb.Append('"');
        }

        public override string ToString() { return sb.ToString(); }
    }

    // -----------------------------------------------------------------------------------------
    // JSON reader: a strict RFC 8259 parser (as simdjson is) that keeps numbers as their text, so
    // 64-bit integers keep every digit.

    public enum JsonKind { Null, Bool, Number, String, Array, Object }

    public sealed class JsonValue
    {
        public JsonKind Kind;
        public bool Bool;
        /// <summary>A number's text, or a string's value.</summary>
        public string Text;
        /// <summary>A number without fraction or exponent.</summary>
        public bool Integer;
        public List<JsonValue> Elements;
        public List<KeyValuePair<string, JsonValue>> Members;

        static readonly BigInteger I64Min = long.MinValue, U64Max = ulong.MaxValue;

        public static JsonValue Parse(string text)
        {
            int i = 0;
            var root = Value(text, ref i, 0);
            Ws(text, ref i);
            if (i != text.Length) throw Types.Malformed("not JSON: text after the value");
            return root;
        }

        static void Ws(string t, ref int i)
        {
            while (i < t.Length && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r')) ++i;
        }

        static bool At(string t, int i, string word)
        {
            return string.CompareOrdinal(t, i, word, 0, word.Length) == 0 && i + word.Length <= t.Length;
        }

        static JsonValue Value(string t, ref int i, int depth)
        {
            Ws(t, ref i);
            if (i >= t.Length) throw Types.Malformed("not JSON: the text ends early");
            char c = t[i];
            if (c == '{' || c == '[')
            {
                if (depth >= Codec.MaxJsonDepth) throw new CodecException(CodecError.NestingTooDeep, "JSON arrays and objects nested beyond " + Codec.MaxJsonDepth);
                ++i;
                Ws(t, ref i);
                if (c == '[')
                {
                    var a = new JsonValue { Kind = JsonKind.Array, Elements = new List<JsonValue>() };
                    if (i < t.Length && t[i] == ']') { ++i; return a; }
                    for (;;)
                    {
                        a.Elements.Add(Value(t, ref i, depth + 1));
                        Ws(t, ref i);
                        if (i < t.Length && t[i] == ',') { ++i; continue; }
                        if (i < t.Length && t[i] == ']') { ++i; return a; }
                        throw Types.Malformed("not JSON: expected , or ]");
                    }
                }
                var o = new JsonValue { Kind = JsonKind.Object, Members = new List<KeyValuePair<string, JsonValue>>() };
                if (i < t.Length && t[i] == '}') { ++i; return o; }
                for (;;)
                {
                    Ws(t, ref i);
                    if (i >= t.Length || t[i] != '"') throw Types.Malformed("not JSON: expected a key");
                    string k = Str(t, ref i);
                    Ws(t, ref i);
                    if (i >= t.Length || t[i] != ':') throw Types.Malformed("not JSON: expected :");
                    ++i;
                    o.Members.Add(new KeyValuePair<string, JsonValue>(k, Value(t, ref i, depth + 1)));
                    Ws(t, ref i);
                    if (i < t.Length && t[i] == ',') { ++i; continue; }
                    if (i < t.Length && t[i] == '}') { ++i; return o; }
                    throw Types.Malformed("not JSON: expected , or }");
                }
            }
            if (c == '"') return new JsonValue { Kind = JsonKind.String, Text = Str(t, ref i) };
            if (At(t, i, "true")) { i += 4; return new JsonValue { Kind = JsonKind.Bool, Bool = true }; }
            if (At(t, i, "false")) { i += 5; return new JsonValue { Kind = JsonKind.Bool, Bool = false }; }
            if (At(t, i, "null")) { i += 4; return new JsonValue { Kind = JsonKind.Null }; }
            return Num(t, ref i);
        }

        static int Hex4(string t, ref int i)
        {
            if (i + 4 > t.Length) throw Types.Malformed("not JSON: a bad \\u escape");
            int v = 0;
            for (int k = 0; k < 4; ++k)
            {
                char h = t[i + k];
                int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
                if (d < 0) throw Types.Malformed("not JSON: a bad \\u escape");
                v = v * 16 + d;
            }
            i += 4;
            return v;
        }

        static string Str(string t, ref int i)
        {
            ++i; // the opening quote
            var sb = new StringBuilder();
            for (;;)
            {
                if (i >= t.Length) throw Types.Malformed("not JSON: an unterminated string");
                char c = t[i];
                if (c == '"') { ++i; return sb.ToString(); }
                if (c < 0x20) throw Types.Malformed("not JSON: a control character in a string");
                if (c != '\\') { sb.Append(c); ++i; continue; }
                if (i + 1 >= t.Length) throw Types.Malformed("not JSON: an unterminated string");
                char e = t[i + 1];
                i += 2;
                switch (e)
                {
                    case '"': sb.Append('"'); break;
                    case '\\': sb.Append('\\'); break;
                    case '/': sb.Append('/'); break;
                    case 'b': sb.Append('\b'); break;
                    case 'f': sb.Append('\f'); break;
                    case 'n': sb.Append('\n'); break;
                    case 'r': sb.Append('\r'); break;
                    case 't': sb.Append('\t'); break;
                    case 'u':
                        {
                            int u = Hex4(t, ref i);
                            if (u >= 0xd800 && u < 0xdc00)
                            {
                                if (i + 1 >= t.Length || t[i] != '\\' || t[i + 1] != 'u') throw Types.Malformed("not JSON: a lone surrogate");
                                i += 2;
                                int low = Hex4(t, ref i);
                                if (low < 0xdc00 || low > 0xdfff) throw Types.Malformed("not JSON: a lone surrogate");
                                sb.Append((char)u).Append((char)low);
                            }
                            else if (u >= 0xdc00 && u <= 0xdfff) throw Types.Malformed("not JSON: a lone surrogate");
                            else sb.Append((char)u);
                            break;
                        }
                    default: throw Types.Malformed("not JSON: a bad escape");
                }
            }
        }

        static JsonValue Num(string t, ref int i)
        {
            int start = i;
            if (i < t.Length && t[i] == '-') ++i;
            if (i >= t.Length || t[i] < '0' || t[i] > '9') throw Types.Malformed("not JSON");
            if (t[i] == '0') ++i;
            else while (i < t.Length && t[i] >= '0' && t[i] <= '9') ++i;
            bool integer = true;
            if (i < t.Length && t[i] == '.')
            {
                ++i;
                if (i >= t.Length || t[i] < '0' || t[i] > '9') throw Types.Malformed("not JSON");
                while (i < t.Length && t[i] >= '0' && t[i] <= '9') ++i;
                integer = false;
            }
            if (i < t.Length && (t[i] == 'e' || t[i] == 'E'))
            {
                ++i;
                if (i < t.Length && (t[i] == '+' || t[i] == '-')) ++i;
                if (i >= t.Length || t[i] < '0' || t[i] > '9') throw Types.Malformed("not JSON");
                while (i < t.Length && t[i] >= '0' && t[i] <= '9') ++i;
                integer = false;
            }
            string text = t.Substring(start, i - start);
            // as simdjson: an integer beyond 64 bits, or a number beyond a double, is not a number
            if (integer)
            {
                var b = BigInteger.Parse(text, CultureInfo.InvariantCulture);
                if (b < I64Min || b > U64Max) throw Types.Malformed("not JSON: " + text + " is beyond 64 bits");
            }
            else if (double.IsInfinity(Floats.ParseDouble(text)))
            {
                throw Types.Malformed("not JSON: " + text + " is beyond a double");
            }
            return new JsonValue { Kind = JsonKind.Number, Text = text, Integer = integer };
        }
    }

    // -----------------------------------------------------------------------------------------
    // Floats: exact decimal conversion both ways (BigInteger), so that C# writes what fmt writes
    // (the shortest decimal that reads back to the same value, the nearest of those, ties to even)
    // and reads what simdjson reads (the correctly rounded nearest double).

    public static class Floats
    {
        /// <summary>The NaN C++ (quiet_NaN) and JavaScript write: 0x7ff8000000000000. C#'s
        /// double.NaN has the sign bit set, and binary bodies carry a NaN's bits as they are.</summary>
        public static readonly double NaN = BitConverter.Int64BitsToDouble(0x7ff8000000000000);
        /// <summary>The f32 NaN C++ writes: 0x7fc00000 (C#'s float.NaN is 0xffc00000).</summary>
        public static readonly float NaN32 = FromBits(0x7fc00000);

        public static uint Bits(float f) { return BitConverter.ToUInt32(BitConverter.GetBytes(f), 0); }
        public static float FromBits(uint b) { return BitConverter.ToSingle(BitConverter.GetBytes(b), 0); }

        public static string FormatF64(double v)
        {
            if (double.IsNaN(v)) return "\"NaN\"";
            if (double.IsPositiveInfinity(v)) return "\"Infinity\"";
            if (double.IsNegativeInfinity(v)) return "\"-Infinity\"";
            ulong bits = (ulong)BitConverter.DoubleToInt64Bits(v);
            bool neg = (bits >> 63) != 0;
            if ((bits << 1) == 0) return neg ? "-0.0" : "0";
            int be = (int)((bits >> 52) & 0x7ff);
            ulong frac = bits & ((1UL << 52) - 1);
            return Shortest(neg, be == 0 ? frac : frac | (1UL << 52), be == 0 ? -1074 : be - 1075, frac == 0 && be > 1);
        }

        public static string FormatF32(float v)
        {
            if (float.IsNaN(v)) return "\"NaN\"";
            if (float.IsPositiveInfinity(v)) return "\"Infinity\"";
            if (float.IsNegativeInfinity(v)) return "\"-Infinity\"";
            uint bits = Bits(v);
            bool neg = (bits >> 31) != 0;
            if ((bits << 1) == 0) return neg ? "-0.0" : "0";
            int be = (int)((bits >> 23) & 0xff);
            uint frac = bits & ((1u << 23) - 1);
            return Shortest(neg, be == 0 ? frac : frac | (1u << 23), be == 0 ? -149 : be - 150, frac == 0 && be > 1);
        }

        /// <summary>x * 2^e2 * 10^e10 as a fraction num/den of integers.</summary>
        static void Fraction(BigInteger x, int e2, int e10, out BigInteger num, out BigInteger den)
        {
            num = x; den = BigInteger.One;
            if (e2 >= 0) num <<= e2; else den <<= -e2;
            if (e10 >= 0) num *= BigInteger.Pow(10, e10); else den *= BigInteger.Pow(10, -e10);
        }


        /// <summary>The decimal value of x * 2^e (x &gt; 0): its significant digits and the
        /// decimal exponent of the first one. `sticky`: the digits are the first 25 and more
        /// nonzero ones follow; else they are all of them (no trailing zeros).</summary>
        static void Exact(ulong x, int e, out string digits, out int exp10, out bool sticky)
        {
            if (ExactFast(x, e, out digits, out exp10, out sticky)) return;
            sticky = false;
            int scale = 0; // the value is N * 10^scale
            BigInteger n;
            if (e >= 0) n = (BigInteger)x << e;
            else { n = x * BigInteger.Pow(5, -e); scale = e; } // x / 2^k = x * 5^k / 10^k
            string d = n.ToString(CultureInfo.InvariantCulture);
            exp10 = d.Length - 1 + scale;
            digits = d.TrimEnd('0');
        }

        const int KeptDigits = 25;

        /// <summary>Exact with 64-bit integers, for the usual magnitudes (about 2^-8 .. 2^63 for
        /// doubles, 2^-37 .. 2^63 for floats); false outside them.</summary>
        static bool ExactFast(ulong x, int e, out string digits, out int exp10, out bool sticky)
        {
            digits = null; exp10 = 0; sticky = false;
            int bits = 64 - LeadingZeros(x);
            if (e >= 0)
            {
                if (bits + e > 63) return false;
                string d = (x << e).ToString(CultureInfo.InvariantCulture);
                exp10 = d.Length - 1;
                digits = d.TrimEnd('0');
                return true;
            }
            int k = -e;
            if (k > 60) return false;
            ulong ip = k >= 64 ? 0 : x >> k;
            ulong frac = x & ((1UL << k) - 1);
            var sb = new StringBuilder(32);
            if (ip > 0)
            {
                string d = ip.ToString(CultureInfo.InvariantCulture);
                sb.Append(d);
                exp10 = d.Length - 1;
            }
            else exp10 = -1;
            while (frac != 0 && sb.Length < KeptDigits)
            {
                frac *= 10;
                int digit = (int)(frac >> k);
                frac &= (1UL << k) - 1;
                if (sb.Length == 0 && digit == 0) { --exp10; continue; } // a leading zero
                sb.Append((char)('0' + digit));
            }
            sticky = frac != 0;
            digits = sticky ? sb.ToString() : sb.ToString().TrimEnd('0');
            return true;
        }

        static int LeadingZeros(ulong x)
        {
            int n = 0;
            while (n < 64 && (x & (1UL << 63 - n)) == 0) ++n;
            return n;
        }

        /// <summary>Compares two positive decimals given as (digits, exponent of the first, more
        /// nonzero digits follow).</summary>
        static int CompareDecimal(string a, int ea, bool sa, string b, int eb, bool sb)
        {
            if (ea != eb) return ea < eb ? -1 : 1;
            int n = Math.Max(a.Length, b.Length);
            for (int i = 0; i < n; ++i)
            {
                char x = i < a.Length ? a[i] : '0', y = i < b.Length ? b[i] : '0';
                if (x != y) return x < y ? -1 : 1;
            }
            return sa == sb ? 0 : sa ? 1 : -1;
        }

        /// <summary>digits + 1 in the last place (exponent of the first digit updated on a carry).</summary>
        static string Increment(string digits, ref int exp10)
        {
            var c = digits.ToCharArray();
            int i = c.Length - 1;
            while (i >= 0 && c[i] == '9') c[i--] = '0';
            if (i < 0) { ++exp10; return "1"; }
            c[i]++;
            return new string(c).TrimEnd('0');
        }

        /// <summary>The shortest decimal in the rounding interval of m * 2^e (the nearest of those,
        /// ties to even), laid out as fmt's `{}`. Exact: the value and the interval's bounds are
        /// written out in decimal once, and candidates are compared as digit strings.</summary>
        static string Shortest(bool neg, ulong m, int e, bool lowerCloser)
        {
            // the interval: halfway to each neighbour, its bounds included when m is even
            string vd, lo, hi;
            int ve, le, he;
            bool vs, ls, hs;
            Exact(m, e, out vd, out ve, out vs);
            Exact(2 * m + 1, e - 1, out hi, out he, out hs); // m < 2^53: no overflow
            if (lowerCloser) Exact(4 * m - 1, e - 2, out lo, out le, out ls);
            else Exact(2 * m - 1, e - 1, out lo, out le, out ls);
            bool inclusive = (m & 1) == 0;
            for (int p = 1; p <= vd.Length; ++p)
            {
                // the two p-digit decimals around v: v cut to p digits, and one unit above it
                bool exact = p == vd.Length && !vs; // v itself has p digits
                string down = vd.Substring(0, p).TrimEnd('0');
                if (down.Length == 0) down = "0";
                int downE = ve, upE = ve;
                string up = Increment(vd.Substring(0, p), ref upE);
                bool downIn = exact || Inside(down, downE, lo, le, ls, hi, he, hs, inclusive);
                bool upIn = !exact && Inside(up, upE, lo, le, ls, hi, he, hs, inclusive);
                if (!downIn && !upIn) continue;
                bool takeUp;
                if (!downIn) takeUp = true;
                else if (!upIn) takeUp = false;
                else
                {
                    // the nearer: compare what v has below the p-th digit with one half
                    string rest = vd.Substring(p);
                    bool more = vs;
                    for (int i = 1; i < rest.Length && !more; ++i) more = rest[i] != '0';
                    int half = rest[0] != '5' ? (rest[0] > '5' ? 1 : -1) : (more ? 1 : 0);
                    if (half != 0) takeUp = half > 0;
                    else takeUp = ((vd[p - 1] - '0') & 1) == 1; // a tie: the even one
                }
                return takeUp ? Layout(neg, up, upE) : Layout(neg, down, downE);
            }
            throw new InvalidOperationException("ember: unreachable: v is in its own interval");
        }

        static bool Inside(string d, int de, string lo, int le, bool ls, string hi, int he, bool hs, bool inclusive)
        {
            int l = CompareDecimal(d, de, false, lo, le, ls), h = CompareDecimal(d, de, false, hi, he, hs);
            return inclusive ? l >= 0 && h <= 0 : l > 0 && h < 0;
        }

        /// <summary>Lays out digits as fmt 9's `{}` does: fixed notation for exponents -4 … 15,
        /// else `d.ddde±XX`.</summary>
        static string Layout(bool negative, string digits, int exp)
        {
            string s;
            if (exp < -4 || exp >= 16)
            {
                int a = Math.Abs(exp);
                s = digits.Substring(0, 1) + (digits.Length > 1 ? "." + digits.Substring(1) : "") + "e" + (exp < 0 ? "-" : "+") +
                    (a < 10 ? "0" : "") + a.ToString(CultureInfo.InvariantCulture);
            }
            else if (exp < 0) s = "0." + new string('0', -exp - 1) + digits;
            else if (digits.Length <= exp + 1) s = digits + new string('0', exp + 1 - digits.Length);
            else s = digits.Substring(0, exp + 1) + "." + digits.Substring(exp + 1);
            return negative ? "-" + s : s;
        }

        /// <summary>Whether `s` is a number as a JSON numeric string may write it
        /// (`-?(digits[.digits]|.digits)(e[+-]digits)?`).</summary>
        public static bool IsNumericString(string s)
        {
            int i = 0, n = s.Length;
            if (i < n && s[i] == '-') ++i;
            int before = 0, after = 0;
            while (i < n && s[i] >= '0' && s[i] <= '9') { ++i; ++before; }
            if (i < n && s[i] == '.') { ++i; while (i < n && s[i] >= '0' && s[i] <= '9') { ++i; ++after; } }
            if (before == 0 && after == 0) return false;
            if (i < n && (s[i] == 'e' || s[i] == 'E'))
            {
                ++i;
                if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
                int ed = 0;
                while (i < n && s[i] >= '0' && s[i] <= '9') { ++i; ++ed; }
                if (ed == 0) return false;
            }
            return i == n;
        }

        static readonly double[] Pow10 =
        {
            1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
            1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
        };

        /// <summary>The nearest double to a decimal number (ties to even); infinity beyond the
        /// largest. Takes what IsNumericString accepts.</summary>
        public static double ParseDouble(string s)
        {
            int i = 0;
            bool neg = false;
            if (i < s.Length && s[i] == '-') { neg = true; ++i; }
            var digits = new StringBuilder();
            int e10 = 0;
            bool frac = false;
            for (; i < s.Length; ++i)
            {
                char c = s[i];
                if (c >= '0' && c <= '9') { digits.Append(c); if (frac) --e10; }
                else if (c == '.') frac = true;
                else break;
            }
            if (i < s.Length && (s[i] == 'e' || s[i] == 'E'))
            {
                ++i;
                bool eneg = false;
                if (s[i] == '+') ++i;
                else if (s[i] == '-') { eneg = true; ++i; }
                long ev = 0;
                for (; i < s.Length; ++i) if (ev < 100000) ev = ev * 10 + (s[i] - '0');
                e10 += (int)(eneg ? -ev : ev);
            }
            string ds = digits.ToString().TrimStart('0');
            double r;
            if (ds.Length == 0) r = 0;
            else
            {
                // beyond these, the value is 0 or infinite whatever the digits
                int magnitude = ds.Length + e10;
                if (magnitude > 310) r = double.PositiveInfinity;
                else if (magnitude < -330) r = 0;
                else if (ds.Length <= 15 && e10 >= -22 && e10 <= 22)
                {
                    // Clinger's fast path: both operands exact doubles, one correctly rounded operation
                    double d = (double)long.Parse(ds, CultureInfo.InvariantCulture);
                    r = e10 >= 0 ? d * Pow10[e10] : d / Pow10[-e10];
                }
                else r = Nearest(BigInteger.Parse(ds, CultureInfo.InvariantCulture), e10);
            }
            return neg ? -r : r;
        }

        /// <summary>The double nearest to d * 10^e10 (d &gt; 0).</summary>
        static double Nearest(BigInteger d, int e10)
        {
            BigInteger num, den;
            Fraction(d, 0, e10, out num, out den);
            // q = floor(num / den * 2^-sh) with 54 bits (53 and a rounding bit), or fewer below normals
            int sh = (int)(num.ToByteArray().Length * 8 - den.ToByteArray().Length * 8) - 54;
            BigInteger q, rem;
            for (;;)
            {
                BigInteger n = num, dd = den;
                if (sh >= 0) dd <<= sh; else n <<= -sh;
                q = BigInteger.DivRem(n, dd, out rem);
                if (q >= BigInteger.One << 54) { ++sh; continue; }
                if (q < BigInteger.One << 53) { --sh; continue; }
                break;
            }
            // the value is q * 2^sh (plus rem); the unit of the last place is 2^(sh+1)
            if (sh + 1 < -1074)
            {
                // below the normals: the last place is 2^-1074, one rounding bit below it
                sh = -1075;
                BigInteger n = num << 1075;
                q = BigInteger.DivRem(n, den, out rem);
            }
            bool roundBit = !q.IsEven, sticky = !rem.IsZero;
            BigInteger m = q >> 1;
            if (roundBit && (sticky || !m.IsEven)) m += 1;
            int e = sh + 1;
            if (m == BigInteger.One << 53) { m >>= 1; ++e; }
            if (m < BigInteger.One << 52)
            {
                return BitConverter.Int64BitsToDouble((long)(ulong)m); // subnormal (e is -1074), or 2^-1074 * m
            }
            int biased = e + 1075;
            if (biased >= 2047) return double.PositiveInfinity;
            ulong bits = ((ulong)biased << 52) | ((ulong)m & ((1UL << 52) - 1));
            return BitConverter.Int64BitsToDouble((long)bits);
        }
    }
}
