// ember's C# runtime, part 2: a client of the native protocol (PROTOCOL.md §1-§5, §11) over TCP
// (System.Net.Sockets) or WebSocket (System.Net.WebSockets.ClientWebSocket, one binary message
// per frame). It does the handshake, numbers requests and matches their replies, delivers
// pushes, answers and sends pings, acknowledges what it receives, and when the connection is
// lost resumes the session on a new one: the server sends every reply and push the client
// missed, once, and the client sends again the requests the server never received. The
// generated NAME.cs derives its typed `Client` from ClientBase. Unity's profile as Ember.cs.
using System;
using System.Collections.Generic;
using System.IO;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Threading;
using System.Threading.Tasks;

namespace Ember
{
    /// <summary>ember's statuses of error frames (PROTOCOL.md §5); 1000 and up are the schema's.</summary>
    public static class Status
    {
        public const ushort Ok = 0, BadRequest = 1, UnknownCommand = 2, InternalError = 3, Overloaded = 4,
            RateLimited = 5, Unavailable = 6, Timeout = 7, ShuttingDown = 8, ServerFull = 9,
            HandshakeRequired = 10, UnsupportedVersion = 11, TooManyRequests = 12, SessionExpired = 13,
            Replaced = 14, OutcomeUnknown = 15;

        static readonly string[] Names = { "ok", "bad_request", "unknown_command", "internal_error", "overloaded",
            "rate_limited", "unavailable", "timeout", "shutting_down", "server_full", "handshake_required",
            "unsupported_version", "too_many_requests", "session_expired", "replaced", "outcome_unknown" };

        /// <summary>ember's name of a status below 1000, or null.</summary>
        public static string NameOf(int status) { return status >= 0 && status < Names.Length ? Names[status] : null; }
    }

    /// <summary>The outcome of a call: the reply, or the error frame's status and message (the
    /// schema's error codes are the generated `Errors`), or Unavailable / SessionExpired when the
    /// session ended before the reply came.</summary>
    public sealed class Result<T>
    {
        public T Value { get; private set; }
        public ushort Status { get; private set; }
        public string Message { get; private set; }
        public bool Ok { get { return Status == 0; } }

        public static Result<T> Success(T value) { return new Result<T> { Value = value }; }
        public static Result<T> Failure(ushort status, string message) { return new Result<T> { Status = status, Message = message }; }

        /// <summary>The reply, or a ServerError exception.</summary>
        public T Get()
        {
            if (!Ok) throw new ServerError(Status, Message);
            return Value;
        }

        public override string ToString() { return Ok ? "ok: " + Value : "error " + Status + ": " + Message; }
    }

    /// <summary>An error frame, or the end of a session, as an exception (Result.Get, Connect).</summary>
    public sealed class ServerError : Exception
    {
        public ushort Status { get; private set; }
        public ServerError(ushort status, string message) : base("ember error " + status + ": " + message) { Status = status; }
    }

    public sealed class ClientOptions
    {
        /// <summary>Requests in JSON rather than binary (replies come in the request's encoding).</summary>
        public bool JsonRequests = false;
        /// <summary>Pushes in JSON rather than binary (asked for in the handshake).</summary>
        public bool JsonPushes = false;
        /// <summary>Ask for a session that outlives its connection (resume, PROTOCOL.md §3).</summary>
        public bool Resumable = true;
        /// <summary>The largest body accepted from the server; a bigger one closes the connection.</summary>
        public int MaxFrame = 16 * 1024 * 1024;
        public TimeSpan ConnectTimeout = TimeSpan.FromSeconds(10);
        /// <summary>Where push events and Disconnected run: null runs them on the receiving thread,
        /// in order; Unity code passes SynchronizationContext.Current of the main thread.</summary>
        public SynchronizationContext EventContext = null;
        /// <summary>WebSocket only: the Origin header to send (none by default, as native clients).</summary>
        public string Origin = null;
        /// <summary>Where the client says what happens to its connection (lost, resumed), or null.</summary>
        public Action<string> Log = null;
    }

    /// <summary>Per-call settings (the generated methods that take a request take them too).</summary>
    public sealed class CallOptions
    {
        /// <summary>The whole call's deadline, every attempt included; past it the call ends with
        /// Status.Timeout (the request may still run). A call without CallOptions waits for its
        /// reply as long as the session lives.</summary>
        public TimeSpan Timeout = TimeSpan.FromSeconds(10);
        /// <summary>How many more times to send the request, within Timeout, when an attempt ends
        /// with Unavailable (6: it was not run) or, only when the server announced that it takes
        /// request ids, with OutcomeUnknown (15) or its own timeout. Every attempt carries the same
        /// request id, so the server answers a retry of a request that ran with that run's reply
        /// (PROTOCOL.md §1, docs/sessions.md "Retries"). Attempts wait 20 ms, doubling to 500 ms,
        /// in between. 0 to MaxRetries.</summary>
        public int Retries = 0;
        /// <summary>The request's idempotency id, for a caller that retries by itself later (e.g.
        /// after a restart): take one from ClientBase.NewRequestId(), keep it, pass it again.
        /// 0: none, unless Retries is set (the client then picks one).</summary>
        public ulong RequestId = 0;

        /// <summary>The most retries a call may ask for (its deadline stops it sooner anyway).</summary>
        public const int MaxRetries = 1000;
    }

    /// <summary>One connection: TCP or WebSocket, carrying native frames.</summary>
    abstract class Transport
    {
        public abstract Task Send(byte[] data, int count);
        /// <summary>Reads some bytes; 0 when the peer closed.</summary>
        public abstract Task<int> Receive(byte[] buf, int offset, int count);
        public abstract void Abort();
        /// <summary>Closes politely (a WebSocket close handshake).</summary>
        public virtual Task Close() { Abort(); return Task.FromResult(0); }
    }

    sealed class TcpTransport : Transport
    {
        readonly TcpClient client;
        readonly NetworkStream stream;
        TcpTransport(TcpClient client) { this.client = client; stream = client.GetStream(); }

        public static async Task<Transport> Open(string host, int port, TimeSpan timeout)
        {
            var c = new TcpClient { NoDelay = true };
            var connect = c.ConnectAsync(host, port);
            if (await Task.WhenAny(connect, Task.Delay(timeout)).ConfigureAwait(false) != connect)
            {
                c.Close();
                throw new IOException("connect to " + host + ":" + port + " timed out");
            }
            await connect.ConfigureAwait(false);
            return new TcpTransport(c);
        }

        public override Task Send(byte[] data, int count) { return stream.WriteAsync(data, 0, count); }
        public override Task<int> Receive(byte[] buf, int offset, int count) { return stream.ReadAsync(buf, offset, count); }
        public override void Abort()
        {
            try { client.Client.Close(0); } catch (Exception) { }
            try { client.Close(); } catch (Exception) { }
        }
    }

    sealed class WebSocketTransport : Transport
    {
        readonly ClientWebSocket ws;
        WebSocketTransport(ClientWebSocket ws) { this.ws = ws; }

        public static async Task<Transport> Open(Uri uri, string origin, TimeSpan timeout)
        {
            var ws = new ClientWebSocket();
            if (origin != null) ws.Options.SetRequestHeader("Origin", origin);
            using (var cts = new CancellationTokenSource(timeout))
            {
                await ws.ConnectAsync(uri, cts.Token).ConfigureAwait(false);
            }
            return new WebSocketTransport(ws);
        }

        // one native frame per binary message (PROTOCOL.md §11)
        public override Task Send(byte[] data, int count)
        {
            return ws.SendAsync(new ArraySegment<byte>(data, 0, count), WebSocketMessageType.Binary, true, CancellationToken.None);
        }

        // a binary message holds whole frames: read as a stream of bytes, as from TCP
        public override async Task<int> Receive(byte[] buf, int offset, int count)
        {
            for (;;)
            {
                var r = await ws.ReceiveAsync(new ArraySegment<byte>(buf, offset, count), CancellationToken.None).ConfigureAwait(false);
                if (r.MessageType == WebSocketMessageType.Close) return 0;
                if (r.MessageType == WebSocketMessageType.Text) throw new IOException("the server sent a text message");
                if (r.Count > 0) return r.Count;
            }
        }

        public override void Abort()
        {
            try { ws.Abort(); } catch (Exception) { }
            try { ws.Dispose(); } catch (Exception) { }
        }

        public override async Task Close()
        {
            try
            {
                using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2)))
                    await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", cts.Token).ConfigureAwait(false);
            }
            catch (Exception) { }
            Abort();
        }
    }

    /// <summary>A native frame (PROTOCOL.md §1).</summary>
    struct Frame
    {
        public const int HeaderSize = 16;
        public const byte Request = 1, Response = 2, Push = 3, Error = 4, Ping = 5, Pong = 6, Handshake = 7, Ack = 8, Bye = 9;
        public byte Kind, Flags;
        public ushort Command;
        public uint Seq, Ack_;
        public byte[] Body;

        /// <summary>Flag bit 2 of a request: its body starts with the request's 8-byte id.</summary>
        public const byte RequestIdFlag = 0x04;
        public const int RequestIdSize = 8;

        public bool Json { get { return (Flags & 1) != 0; } }

        public static byte[] Make(byte kind, bool json, ushort command, uint seq, uint ack, byte[] body)
        {
            return Make(kind, json, command, seq, ack, body, 0);
        }

        /// <summary>A frame; a request with `requestId` other than 0 carries it before its body.</summary>
        public static byte[] Make(byte kind, bool json, ushort command, uint seq, uint ack, byte[] body, ulong requestId)
        {
            int idBytes = requestId != 0 ? RequestIdSize : 0;
            int n = (body == null ? 0 : body.Length) + idBytes;
            var f = new byte[HeaderSize + n];
            Put32(f, 0, (uint)n);
            f[4] = kind;
            f[5] = (byte)((json ? 1 : 0) | (requestId != 0 ? RequestIdFlag : 0));
            f[6] = (byte)(command >> 8);
            f[7] = (byte)command;
            Put32(f, 8, seq);
            Put32(f, 12, ack);
            if (requestId != 0)
            {
                Put32(f, HeaderSize, (uint)(requestId >> 32));
                Put32(f, HeaderSize + 4, (uint)requestId);
            }
            if (n > idBytes) Buffer.BlockCopy(body, 0, f, HeaderSize + idBytes, n - idBytes);
            return f;
        }

        public static void Put32(byte[] b, int at, uint v)
        {
            b[at] = (byte)(v >> 24); b[at + 1] = (byte)(v >> 16); b[at + 2] = (byte)(v >> 8); b[at + 3] = (byte)v;
        }

        public static uint Get32(byte[] b, int at)
        {
            return (uint)b[at] << 24 | (uint)b[at + 1] << 16 | (uint)b[at + 2] << 8 | b[at + 3];
        }
    }

    /// <summary>Reads whole frames from a transport (keeps what follows the last whole frame).</summary>
    sealed class FrameReader
    {
        readonly Transport t;
        readonly int maxFrame;
        byte[] buf = new byte[64 * 1024];
        int start, end;

        public FrameReader(Transport t, int maxFrame) { this.t = t; this.maxFrame = maxFrame; }

        /// <summary>The next frame, or null when the peer closed.</summary>
        public async Task<Frame?> Next()
        {
            for (;;)
            {
                if (end - start >= Frame.HeaderSize)
                {
                    uint n = Frame.Get32(buf, start);
                    if (n > (uint)maxFrame) throw new IOException("the server sent a frame of " + n + " bytes, over the limit of " + maxFrame);
                    if (end - start >= Frame.HeaderSize + (int)n)
                    {
                        var f = new Frame
                        {
                            Kind = buf[start + 4],
                            Flags = buf[start + 5],
                            Command = (ushort)(buf[start + 6] << 8 | buf[start + 7]),
                            Seq = Frame.Get32(buf, start + 8),
                            Ack_ = Frame.Get32(buf, start + 12),
                            Body = new byte[n],
                        };
                        Buffer.BlockCopy(buf, start + Frame.HeaderSize, f.Body, 0, (int)n);
                        start += Frame.HeaderSize + (int)n;
                        return f;
                    }
                    if (buf.Length < Frame.HeaderSize + (int)n) Grow(Frame.HeaderSize + (int)n);
                }
                if (end == buf.Length) Grow(buf.Length);
                int got = await t.Receive(buf, end, buf.Length - end).ConfigureAwait(false);
                if (got <= 0) return null;
                end += got;
            }
        }

        /// <summary>Moves what is kept to the front, with room for `need` bytes.</summary>
        void Grow(int need)
        {
            int have = end - start;
            var next = buf.Length >= need && start > 0 ? buf : new byte[Math.Max(need, buf.Length * 2)];
            Buffer.BlockCopy(buf, start, next, 0, have);
            buf = next;
            start = 0;
            end = have;
        }

        public int Buffered { get { return end - start; } }
    }

    /// <summary>The client side of a session: what a generated `Client` is built on. Calls may be
    /// made from any thread, any number in flight. Connect once (ConnectTcp or ConnectWebSocket);
    /// a lost connection is resumed by itself while the server keeps the session (its
    /// `resume_grace`); after that, or after Close, calls end with Unavailable or SessionExpired.</summary>
    public abstract class ClientBase : IDisposable
    {
        sealed class Pending
        {
            public uint Seq;
            public byte[] Frame; // the request frame, its ack field rewritten when sent again
            public int Generation = -1; // the connection it was sent on
            public TaskCompletionSource<Frame> Done;
        }

        readonly ClientOptions options;
        readonly object gate = new object();
        readonly SemaphoreSlim sendLock = new SemaphoreSlim(1, 1);
        readonly SortedDictionary<uint, Pending> pending = new SortedDictionary<uint, Pending>();
        Func<Task<Transport>> open; // how to connect: where Connect* said, or where `moved` said
        Uri webSocketUri; // the WebSocket's address; null over TCP
        bool moved; // told to resume at another server, which takes the session over
        const ushort MovedPushId = 0xff00; // a server that drains (PROTOCOL.md §3)
        Transport transport;
        int generation;
        bool ready; // the current connection has its handshake done and its requests sent again
        bool closed;
        bool closing; // Close() sent bye: the connection's end is no loss to resume from
        uint nextSeq, pingSeq;
        uint received, ackSent;
        long bytesSinceAck;
        byte[] token = new byte[32];
        uint graceMs, idleMs;
        bool serverRequestIds; // the server hello's flag bit 1: it takes request ids
        ulong requestIds = RandomStart(); // the last id given: a random start, then counting
        CancellationTokenSource stop = new CancellationTokenSource();
        TaskCompletionSource<bool> ended = new TaskCompletionSource<bool>();

        protected ClientBase(ClientOptions options)
        {
            this.options = options ?? new ClientOptions();
        }

        public ClientOptions Options { get { return options; } }
        /// <summary>The session's id on the server (from the server hello).</summary>
        public ulong SessionId { get; private set; }
        /// <summary>How many times the session was resumed on a new connection.</summary>
        public int Resumes { get; private set; }
        /// <summary>The largest body the server accepts.</summary>
        public uint ServerMaxFrame { get; private set; }
        public bool Connected { get { lock (gate) return ready && !closed; } }
        /// <summary>Where the session connects: `host:port` or the WebSocket's URI, as given to
        /// Connect*, or the server a draining one moved the session to.</summary>
        public string Address { get; private set; }

        /// <summary>Raised once when the session ends for good (Close, a refused resume, a
        /// grace that passed): its status (Unavailable, SessionExpired, Replaced...) and why.</summary>
        public event Action<ushort, string> Disconnected;
        /// <summary>Raised after each resume (before the missed replies and pushes are delivered).</summary>
        public event Action Resumed;

        /// <summary>Connects over TCP and does the handshake.</summary>
        public Task ConnectTcp(string host, int port)
        {
            return Connect(() => TcpTransport.Open(host, port, options.ConnectTimeout), host + ":" + port, null);
        }

        /// <summary>Connects over WebSocket (`ws://host:port/`) and does the handshake.</summary>
        public Task ConnectWebSocket(Uri uri)
        {
            return Connect(() => WebSocketTransport.Open(uri, options.Origin, options.ConnectTimeout), uri.ToString(), uri);
        }

        async Task Connect(Func<Task<Transport>> opener, string address, Uri uri)
        {
            lock (gate)
            {
                if (open != null) throw new InvalidOperationException("ember: the client is connected already");
                open = opener;
                Address = address;
                webSocketUri = uri;
            }
            var t = await opener().ConfigureAwait(false);
            FrameReader reader;
            try
            {
                reader = await Handshake(t, false).ConfigureAwait(false);
            }
            catch (Exception)
            {
                t.Abort();
                throw;
            }
            lock (gate) { transport = t; generation = 1; ready = true; }
            Forget(Task.Run(() => ReadLoop(t, reader, 1)));
            Forget(Task.Run(() => PingLoop()));
        }

        /// <summary>Sends the client hello (a resume with the token when `resume`) and reads the
        /// server's; returns the reader, which may hold frames that followed the hello.</summary>
        async Task<FrameReader> Handshake(Transport t, bool resume)
        {
            byte flags;
            lock (gate) flags = (byte)((resume ? 1 : 0) | (options.Resumable ? 2 : 0) | (resume && moved ? 4 : 0));
            byte[] hello = new byte[resume ? 40 : 4];
            hello[0] = 0; hello[1] = 1; // version 1
            hello[2] = options.JsonPushes ? (byte)1 : (byte)0;
            hello[3] = flags;
            if (resume)
            {
                lock (gate)
                {
                    Buffer.BlockCopy(token, 0, hello, 4, 32);
                    Frame.Put32(hello, 36, received);
                }
            }
            var f = Frame.Make(Frame.Handshake, false, 0, 0, 0, hello);
            await t.Send(f, f.Length).ConfigureAwait(false);
            var reader = new FrameReader(t, options.MaxFrame);
            var answer = reader.Next();
            if (await Task.WhenAny(answer, Task.Delay(options.ConnectTimeout)).ConfigureAwait(false) != answer)
                throw new IOException("no handshake from the server within " + options.ConnectTimeout);
            var got = await answer.ConfigureAwait(false);
            if (got == null) throw new IOException("the server closed the connection during the handshake");
            var h = got.Value;
            if (h.Kind == Frame.Error)
            {
                var e = ErrorOf(h);
                throw new ServerError(e.Key, e.Value);
            }
            if (h.Kind != Frame.Handshake || h.Body.Length < 60) throw new IOException("the server's first frame is not a hello");
            var b = h.Body;
            ulong id = 0;
            for (int i = 4; i < 12; ++i) id = id << 8 | b[i];
            lock (gate)
            {
                SessionId = id;
                idleMs = Frame.Get32(b, 12);
                ServerMaxFrame = Frame.Get32(b, 16);
                Buffer.BlockCopy(b, 24, token, 0, 32);
                graceMs = Frame.Get32(b, 56);
                lastRequestSeq = Frame.Get32(b, 20);
                if ((b[3] & 1) != 0) moved = false; // resumed where it was told to move
                serverRequestIds = (b[3] & 2) != 0;
            }
            return reader;
        }

        uint lastRequestSeq;

        static KeyValuePair<ushort, string> ErrorOf(Frame f)
        {
            try
            {
                var e = Codec.Decode<ErrorBody>(f.Body, 0, f.Body.Length, f.Json);
                return new KeyValuePair<ushort, string>(e.status, e.message);
            }
            catch (CodecException x)
            {
                return new KeyValuePair<ushort, string>(Status.BadRequest, "an error frame that does not decode: " + x.Message);
            }
        }

        /// <summary>Sends request `command` and waits for its reply; with `options`, within its
        /// Timeout, and with its RequestId or Retries, as an idempotent request (CallOptions).</summary>
        protected async Task<Result<TRep>> Call<TReq, TRep>(ushort command, TReq request, CallOptions options = null)
            where TReq : IMessage where TRep : IMessage, new()
        {
            if (options != null && (options.Retries < 0 || options.Retries > CallOptions.MaxRetries))
                throw new ArgumentOutOfRangeException("options", "Retries must be from 0 to " + CallOptions.MaxRetries);
            bool json = this.options.JsonRequests;
            byte[] body = Codec.Encode(request, json);
            if (options == null)
            {
                // The common call: no id, one attempt, no deadline.
                var one = await Attempt(command, json, body, 0, null).ConfigureAwait(false);
                return ResultOf<TRep>(one);
            }
            ulong id = options.RequestId != 0 ? options.RequestId : options.Retries > 0 ? NewRequestId() : 0;
            var deadline = DateTime.UtcNow + options.Timeout;
            int pause = 20;
            bool mayHaveRun = false; // an attempt ended without saying whether it ran
            for (int attempt = 0; ; ++attempt)
            {
                var left = deadline - DateTime.UtcNow;
                var outcome = left > TimeSpan.Zero
                    ? await Attempt(command, json, body, id, left).ConfigureAwait(false)
                    : Outcome.OwnTimeout(options.Timeout);
                bool notRun = outcome.HasReply && outcome.Reply.Kind == Frame.Error && ErrorOf(outcome.Reply).Key == Status.Unavailable;
                mayHaveRun = mayHaveRun || !notRun;
                if (attempt >= options.Retries || !MayRetry(outcome) || DateTime.UtcNow.AddMilliseconds(pause) >= deadline)
                {
                    var r = ResultOf<TRep>(outcome);
                    // "Not run" must not hide an earlier attempt that may have run (as the C++ client).
                    if (!notRun || !mayHaveRun) return r;
                    return Result<TRep>.Failure(Status.OutcomeUnknown, "an earlier attempt may have run; the last one was not run: " + r.Message);
                }
                await Task.Delay(pause).ConfigureAwait(false);
                pause = Math.Min(pause * 2, 500);
            }
        }

        /// <summary>A new idempotency id, unique among this client's requests (a random start,
        /// then counting), for CallOptions.RequestId.</summary>
        public ulong NewRequestId()
        {
            lock (gate)
            {
                if (++requestIds == 0) ++requestIds;
                return requestIds;
            }
        }

        static ulong RandomStart()
        {
            var b = new byte[8];
            using (var rng = System.Security.Cryptography.RandomNumberGenerator.Create()) rng.GetBytes(b);
            ulong v = 0;
            foreach (var x in b) v = v << 8 | x;
            return v == 0 ? 1 : v;
        }

        /// <summary>How one attempt ended: a reply frame, the session's end, or no reply in time.</summary>
        struct Outcome
        {
            public Frame Reply;
            public bool HasReply;
            public ushort Status; // without a reply: why
            public string Message;
            public bool TimedOut;

            public static Outcome OwnTimeout(TimeSpan t)
            {
                return new Outcome { Status = Ember.Status.Timeout, Message = "no reply within " + t.TotalMilliseconds + " ms (the client's deadline; the request may still run)", TimedOut = true };
            }
        }

        /// <summary>Sends the request once (`requestId` 0: none) and waits for its reply, at most
        /// `wait` (null: as long as the session lives).</summary>
        async Task<Outcome> Attempt(ushort command, bool json, byte[] body, ulong requestId, TimeSpan? wait)
        {
            var p = new Pending { Done = new TaskCompletionSource<Frame>(TaskCreationOptions.RunContinuationsAsynchronously) };
            lock (gate)
            {
                if (closed) return new Outcome { Status = Status.Unavailable, Message = "the session has ended (Close, or the event Disconnected said why)" };
                if (open == null) throw new InvalidOperationException("ember: connect first");
                p.Seq = ++nextSeq;
                // A server that predates request ids is sent none (and MayRetry keeps retries safe there).
                p.Frame = Frame.Make(Frame.Request, json, command, p.Seq, 0, body, serverRequestIds ? requestId : 0);
                pending.Add(p.Seq, p);
            }
            await SendPending(p).ConfigureAwait(false);
            if (wait.HasValue && await Task.WhenAny(p.Done.Task, Task.Delay(wait.Value)).ConfigureAwait(false) != p.Done.Task)
            {
                lock (gate)
                {
                    // gone already: its reply (or the session's end) came as the delay ended
                    if (pending.Remove(p.Seq)) return Outcome.OwnTimeout(wait.Value);
                }
            }
            try { return new Outcome { Reply = await p.Done.Task.ConfigureAwait(false), HasReply = true }; }
            catch (ServerError e) { return new Outcome { Status = e.Status, Message = e.Message }; }
        }

        // Unavailable was not run: always safe again. An unknown outcome (the server's, or this
        // call's own deadline) only when the server remembers request ids.
        bool MayRetry(Outcome o)
        {
            bool ids;
            lock (gate)
            {
                if (closed) return false; // the session's end is no answer to retry
                ids = serverRequestIds;
            }
            if (o.TimedOut) return ids;
            if (!o.HasReply || o.Reply.Kind != Frame.Error) return false;
            var st = ErrorOf(o.Reply).Key;
            return st == Status.Unavailable || (st == Status.OutcomeUnknown && ids);
        }

        static Result<TRep> ResultOf<TRep>(Outcome o) where TRep : IMessage, new()
        {
            if (!o.HasReply) return Result<TRep>.Failure(o.Status, o.Message);
            var f = o.Reply;
            if (f.Kind == Frame.Error)
            {
                var e = ErrorOf(f);
                return Result<TRep>.Failure(e.Key, e.Value);
            }
            return Result<TRep>.Success(Codec.Decode<TRep>(f.Body, 0, f.Body.Length, f.Json));
        }

        /// <summary>Sends a request unless the current connection has it already, or is not ready
        /// (then the resume sends it).</summary>
        async Task SendPending(Pending p)
        {
            await sendLock.WaitAsync().ConfigureAwait(false);
            Transport t;
            try
            {
                lock (gate)
                {
                    if (!ready || p.Generation == generation || !pending.ContainsKey(p.Seq)) return;
                    p.Generation = generation;
                    t = transport;
                    Frame.Put32(p.Frame, 12, received);
                    ackSent = received;
                    bytesSinceAck = 0;
                }
                await t.Send(p.Frame, p.Frame.Length).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                // the reader sees the connection fail too, and resumes: the request goes again
                Log("send failed: " + e.Message);
                AbortCurrent();
            }
            finally { sendLock.Release(); }
        }

        /// <summary>Sends a control frame (ping, pong, ack, bye) on the current connection.</summary>
        async Task SendControl(byte kind, uint seq)
        {
            await sendLock.WaitAsync().ConfigureAwait(false);
            try
            {
                Transport t;
                byte[] f;
                lock (gate)
                {
                    if (!ready) return;
                    t = transport;
                    f = Frame.Make(kind, false, 0, seq, received, null);
                    ackSent = received;
                    bytesSinceAck = 0;
                }
                await t.Send(f, f.Length).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                Log("send failed: " + e.Message);
                AbortCurrent();
            }
            finally { sendLock.Release(); }
        }

        /// <summary>Runs `t` on its own; its failure is logged (the loops catch their own).</summary>
        void Forget(Task t)
        {
            t.ContinueWith(x => Log("a background task failed: " + x.Exception), TaskContinuationOptions.OnlyOnFaulted);
        }

        void AbortCurrent()
        {
            Transport t;
            lock (gate) { t = transport; ready = false; }
            if (t != null) t.Abort();
        }

        async Task ReadLoop(Transport t, FrameReader reader, int gen)
        {
            string why = "the server closed the connection";
            try
            {
                for (;;)
                {
                    var next = await reader.Next().ConfigureAwait(false);
                    if (next == null) break;
                    if (!Handle(next.Value, gen)) return;
                    bool ack;
                    lock (gate) ack = ready && (received - ackSent >= 16 || bytesSinceAck >= 16 * 1024);
                    if (ack && reader.Buffered < Frame.HeaderSize) await SendControl(Frame.Ack, 0).ConfigureAwait(false);
                }
            }
            catch (Exception e)
            {
                why = e.Message;
            }
            t.Abort();
            await Lost(gen, why).ConfigureAwait(false);
        }

        /// <summary>One frame from the server; false when the session ended.</summary>
        bool Handle(Frame f, int gen)
        {
            switch (f.Kind)
            {
                case Frame.Response:
                case Frame.Error:
                    {
                        if (f.Kind == Frame.Error && f.Seq == 0)
                        {
                            // the session ends: replaced, server full, session expired...
                            var e = ErrorOf(f);
                            End(e.Key, e.Value);
                            return false;
                        }
                        Pending p;
                        lock (gate)
                        {
                            ++received;
                            bytesSinceAck += Frame.HeaderSize + f.Body.Length;
                            if (pending.TryGetValue(f.Seq, out p)) pending.Remove(f.Seq);
                        }
                        if (p != null) p.Done.TrySetResult(f);
                        return true;
                    }
                case Frame.Push:
                    lock (gate)
                    {
                        ++received;
                        bytesSinceAck += Frame.HeaderSize + f.Body.Length;
                    }
                    if (f.Command == MovedPushId) return OnMoved(f.Body);
                    if (!OnPush(f.Command, f.Body, 0, f.Body.Length, f.Json)) Log("a push of unknown id " + f.Command + " (a newer schema's) ignored");
                    return true;
                case Frame.Ping:
                    {
                        Forget(SendControl(Frame.Pong, f.Seq));
                        return true;
                    }
                case Frame.Pong:
                    return true;
                default:
                    throw new IOException("the server sent a frame of kind " + f.Kind);
            }
        }

        /// <summary>The server drains: resume the session at the address it names (the same kind
        /// of connection; a WebSocket keeps its scheme and path), where that server takes it
        /// over (PROTOCOL.md §3, "Moving to another server"). Throws to leave this connection
        /// as a lost one: the frames behind the push are not counted, and come again there.</summary>
        bool OnMoved(byte[] body)
        {
            if (body.Length < 3 || body.Length > 2 + 255) return true; // no address: stays until closed
            int port = body[0] << 8 | body[1];
            string host = System.Text.Encoding.UTF8.GetString(body, 2, body.Length - 2);
            lock (gate)
            {
                if (!options.Resumable || graceMs == 0) return true; // nothing to resume
                if (webSocketUri != null)
                {
                    var uri = new UriBuilder(webSocketUri) { Host = host, Port = port }.Uri;
                    webSocketUri = uri;
                    Address = uri.ToString();
                    open = () => WebSocketTransport.Open(uri, options.Origin, options.ConnectTimeout);
                }
                else
                {
                    Address = host + ":" + port;
                    open = () => TcpTransport.Open(host, port, options.ConnectTimeout);
                }
                moved = true;
            }
            throw new IOException("the server moved the session to " + Address);
        }

        /// <summary>The connection of generation `gen` is gone: resume on a new one while the
        /// server keeps the session, else end.</summary>
        async Task Lost(int gen, string why)
        {
            uint grace;
            lock (gate)
            {
                if (closed || closing || gen != generation) return;
                ready = false;
                transport = null;
                grace = options.Resumable ? graceMs : 0;
            }
            if (grace == 0)
            {
                End(Status.Unavailable, "connection lost: " + why);
                return;
            }
            Log("connection lost (" + why + "); resuming session " + SessionId);
            var deadline = DateTime.UtcNow.AddMilliseconds(grace);
            int wait = 50;
            while (DateTime.UtcNow < deadline)
            {
                lock (gate) if (closed) return;
                Transport t = null;
                try
                {
                    Func<Task<Transport>> opener;
                    lock (gate) opener = open;
                    t = await opener().ConfigureAwait(false);
                    var reader = await Handshake(t, true).ConfigureAwait(false);
                    int g;
                    lock (gate)
                    {
                        if (closed) { t.Abort(); return; }
                        g = ++generation;
                        transport = t;
                        Resumes++;
                    }
                    Log("session " + SessionId + " resumed; the server had requests up to " + lastRequestSeq);
                    var h = Resumed;
                    if (h != null) Raise(() => h());
                    await ResendAfterResume(t, g).ConfigureAwait(false);
                    Forget(Task.Run(() => ReadLoop(t, reader, g)));
                    return;
                }
                catch (ServerError e)
                {
                    if (t != null) t.Abort();
                    End(e.Status, e.Message);
                    return;
                }
                catch (Exception e)
                {
                    if (t != null) t.Abort();
                    Log("resume failed: " + e.Message);
                }
                try { await Task.Delay(wait, stop.Token).ConfigureAwait(false); } catch (TaskCanceledException) { return; }
                wait = Math.Min(wait * 2, 2000);
            }
            End(Status.SessionExpired, "the connection was lost and not resumed within " + grace + " ms");
        }

        /// <summary>After a resume: an ack at once (it spends the old token), then the requests
        /// the server never received, in order, before any new one.</summary>
        async Task ResendAfterResume(Transport t, int g)
        {
            await sendLock.WaitAsync().ConfigureAwait(false);
            try
            {
                List<Pending> again;
                byte[] ack;
                lock (gate)
                {
                    again = new List<Pending>();
                    foreach (var p in pending.Values)
                        if (p.Seq > lastRequestSeq) again.Add(p);
                    ack = Frame.Make(Frame.Ack, false, 0, 0, received, null);
                    ackSent = received;
                    bytesSinceAck = 0;
                }
                await t.Send(ack, ack.Length).ConfigureAwait(false);
                foreach (var p in again)
                {
                    lock (gate)
                    {
                        p.Generation = g;
                        Frame.Put32(p.Frame, 12, received);
                    }
                    await t.Send(p.Frame, p.Frame.Length).ConfigureAwait(false);
                }
                lock (gate) ready = g == generation && !closed;
            }
            catch (Exception e)
            {
                Log("sending again after the resume failed: " + e.Message);
                t.Abort(); // the reader sees it and resumes again
                lock (gate) ready = g == generation && !closed;
            }
            finally { sendLock.Release(); }
        }

        async Task PingLoop()
        {
            for (;;)
            {
                uint idle;
                lock (gate) { if (closed) return; idle = idleMs; }
                int every = (int)Math.Max(100, Math.Min(idle == 0 ? 20000u : idle / 3, 60000u));
                try { await Task.Delay(every, stop.Token).ConfigureAwait(false); } catch (TaskCanceledException) { return; }
                uint seq;
                lock (gate) seq = ++pingSeq;
                await SendControl(Frame.Ping, seq).ConfigureAwait(false);
            }
        }

        /// <summary>The session ends: every call in flight fails with `status`.</summary>
        void End(ushort status, string why)
        {
            List<Pending> failed;
            Transport t;
            lock (gate)
            {
                if (closed) return;
                closed = true;
                ready = false;
                t = transport;
                transport = null;
                failed = new List<Pending>(pending.Values);
                pending.Clear();
            }
            stop.Cancel();
            if (t != null) t.Abort();
            foreach (var p in failed) p.Done.TrySetException(new ServerError(status, why));
            Log("session " + SessionId + " ended: " + why);
            var h = Disconnected;
            if (h != null) Raise(() => h(status, why));
            ended.TrySetResult(true);
        }

        /// <summary>Ends the session: a `bye` frame (the server drops it at once, no resume), then
        /// the connection closes; calls in flight end with Unavailable.</summary>
        public async Task Close()
        {
            Transport t;
            lock (gate)
            {
                if (closed) return;
                closing = true;
                t = ready ? transport : null;
            }
            if (t != null)
            {
                await SendControl(Frame.Bye, 0).ConfigureAwait(false);
                await t.Close().ConfigureAwait(false);
            }
            End(Status.Unavailable, "closed by the client");
        }

        /// <summary>Drops the connection as a network failure would (no `bye`): the session resumes
        /// on a new connection. For tests, and for a game that knows its network changed.</summary>
        public void DropConnection()
        {
            AbortCurrent();
        }

        public void Dispose()
        {
            End(Status.Unavailable, "disposed");
        }

        /// <summary>Decodes and raises push `id`; false for an id the schema does not know.</summary>
        protected abstract bool OnPush(ushort id, byte[] body, int offset, int count, bool json);

        /// <summary>Runs an event handler on the options' EventContext, or here.</summary>
        protected void Raise(Action a)
        {
            var ctx = options.EventContext;
            if (ctx != null) ctx.Post(_ => Guard(a), null);
            else Guard(a);
        }

        void Guard(Action a)
        {
            try { a(); }
            catch (Exception e) { Log("an event handler threw: " + e); }
        }

        void Log(string what)
        {
            var l = options.Log;
            if (l != null) l(what);
        }

        /// <summary>The body of an error frame: status (u16, tag 1), message (string, tag 2).</summary>
        sealed class ErrorBody : IMessage
        {
            public ushort status;
            public string message = "";
            void IMessage.EncodeBinary(BinaryWriter w) { Types.U16.WriteField(w, 1, status, "error.status"); Types.String.WriteField(w, 2, message, "error.message"); }
            bool IMessage.DecodeBinaryField(BinaryReader r, uint tag, int wt, int depth)
            {
                if (tag == 1) { status = Types.U16.ReadField(r, wt, depth, status, "error.status"); return true; }
                if (tag == 2) { message = Types.String.ReadField(r, wt, depth, message, "error.message"); return true; }
                return false;
            }
            void IMessage.EncodeJson(JsonWriter w) { w.BeginObject(); Types.U16.WriteJsonField(w, "status", status, ""); Types.String.WriteJsonField(w, "message", message, ""); w.EndObject(); }
            bool IMessage.DecodeJsonField(string key, JsonValue v, int depth)
            {
                if (key == "status") { status = Types.U16.ReadJson(v, depth, status, "error.status"); return true; }
                if (key == "message") { message = Types.String.ReadJson(v, depth, message, "error.message"); return true; }
                return false;
            }
        }
    }
}
