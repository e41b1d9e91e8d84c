// The generated C# chat client (ember-codegen --lang cs examples/chat/chat.toml) against a real
// chat server (run.py starts it): sign in, a refused password, join, talk, hear another client,
// list rooms, JSON requests and pushes, and a dropped connection resumed with every missed push
// once and in order, and a call made while the connection was down answered after the resume.
//
//   mono chat_test.exe tcp HOST PORT  |  mono chat_test.exe ws URI  |  mono chat_test.exe mixed HOST PORT URI
//   mono chat_test.exe idle URI IDLE_MS   (a silent session kept alive by the client's pings)
//   mono chat_test.exe noresume HOST PORT (a server with resume_grace 0: a drop ends the session)
using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Ember;

static class ChatTest
{
    static int failures;
    static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    static void Check(bool ok, string what)
    {
        Console.WriteLine((ok ? "ok   " : "FAIL ") + what);
        if (!ok) ++failures;
    }

    static async Task<T> Within<T>(Task<T> t, string what)
    {
        if (await Task.WhenAny(t, Task.Delay(Deadline)) != t) throw new TimeoutException(what + ": no answer within " + Deadline);
        return await t;
    }

    /// <summary>Waits (bounded) until `cond` holds.</summary>
    static async Task<bool> Eventually(Func<bool> cond)
    {
        var until = DateTime.UtcNow + Deadline;
        while (DateTime.UtcNow < until)
        {
            if (cond()) return true;
            await Task.Delay(20);
        }
        return cond();
    }

    /// <summary>A chat client that keeps every chat line it hears.</summary>
    sealed class Player
    {
        public readonly chat.Client Client;
        public readonly List<chat.chat_message> Heard = new List<chat.chat_message>();
        public readonly string Name;

        public Player(string name, ClientOptions options)
        {
            Name = name;
            options.Log = line => Console.WriteLine("  [" + name + "] " + line);
            Client = new chat.Client(options);
            Client.chat_message += m => { lock (Heard) Heard.Add(m); };
        }

        public int Count { get { lock (Heard) return Heard.Count; } }
        public List<string> Texts { get { lock (Heard) return Heard.Select(m => m.text).ToList(); } }
    }

    static Func<chat.Client, Task> connectA, connectB;

    static async Task Play(string label, bool json)
    {
        Console.WriteLine("-- " + label + (json ? ", JSON requests and pushes" : ", binary"));
        var alice = new Player("alice", new ClientOptions { JsonRequests = json, JsonPushes = json });
        var bob = new Player("bob", new ClientOptions { JsonRequests = json, JsonPushes = json });
        await connectA(alice.Client);
        await connectB(bob.Client);
        Check(alice.Client.SessionId != bob.Client.SessionId, "two sessions: " + alice.Client.SessionId + ", " + bob.Client.SessionId);

        var wrong = await Within(alice.Client.login("alice", "wrong"), "login with a wrong password");
        Check(!wrong.Ok && wrong.Status == chat.Errors.bad_password && wrong.Message == chat.Errors.MessageOf(chat.Errors.bad_password),
              "a wrong password is the typed error bad_password (" + wrong + ")");
        var early = await Within(alice.Client.say("lobby", "too early"), "say before login");
        Check(!early.Ok && early.Status == chat.Errors.not_logged_in, "say before login: not_logged_in (" + early + ")");

        var a = await Within(alice.Client.login("alice", "secret"), "alice logs in");
        var b = await Within(bob.Client.login(new chat.login_request { user = "bob", password = "hunter2" }), "bob logs in");
        Check(a.Ok && a.Value.user_id > 0 && a.Value.motd.Contains("alice"), "alice signs in: " + a);
        Check(b.Ok && b.Value.user_id > 0 && b.Value.user_id != a.Value.user_id, "bob signs in: " + b);

        var ja = await Within(alice.Client.join_room("lobby"), "alice joins");
        var jb = await Within(bob.Client.join_room("lobby"), "bob joins");
        Check(ja.Ok && ja.Value.room.name == "lobby" && ja.Value.room.kind == chat.room_kind.lobby, "alice joins the lobby: " + ja);
        Check(jb.Ok && jb.Value.room.members == 2, "bob joins the lobby, 2 members: " + jb);

        var said = await Within(alice.Client.say("lobby", "hello bob, ünïcode ✓ 😀"), "alice says");
        Check(said.Ok && said.Value.delivered == 2, "alice talks, delivered to 2: " + said);
        Check(await Eventually(() => bob.Count == 1), "bob hears alice");
        if (bob.Count >= 1)
        {
            var m = bob.Heard[0];
            Check(m.room == "lobby" && m.from == "alice" && m.text == "hello bob, ünïcode ✓ 😀" && m.sent_at_ms > 1700000000000UL,
                  "the push: " + m);
        }
        Check(await Eventually(() => alice.Count == 1), "alice hears herself (a room member)");

        var rooms = await Within(bob.Client.list_rooms(), "list rooms");
        Check(rooms.Ok && rooms.Value.rooms.Any(r => r.name == "lobby" && r.members == 2), "list_rooms: " + rooms);

        // many calls in flight at once, replies matched by sequence number
        var many = Enumerable.Range(0, 50).Select(i => bob.Client.list_rooms()).ToList();
        await Within(Task.WhenAll(many), "50 calls in flight");
        Check(many.All(t => t.Result.Ok), "50 calls in flight, all answered");

        // bob's connection drops (no bye); alice talks meanwhile; bob calls while it is down
        int before = bob.Count;
        bob.Client.DropConnection();
        var duringDrop = bob.Client.list_rooms();
        for (int i = 0; i < 30; ++i)
        {
            var r = await Within(alice.Client.say("lobby", "line " + i), "alice says line " + i);
            if (!r.Ok) Check(false, "alice says line " + i + ": " + r);
        }
        var late = await Within(duringDrop, "bob's call made while his connection was down");
        Check(late.Ok, "bob's call made while the connection was down is answered after the resume: " + late);
        Check(await Eventually(() => bob.Count == before + 30), "bob hears all 30 lines said while he was away (" + (bob.Count - before) + ")");
        await Task.Delay(300); // a doubled push would arrive now
        var texts = bob.Texts.Skip(before).ToList();
        Check(texts.SequenceEqual(Enumerable.Range(0, 30).Select(i => "line " + i)), "each once, in order");
        Check(bob.Client.Resumes == 1, "bob resumed once (" + bob.Client.Resumes + ")");
        var after = await Within(bob.Client.say("lobby", "back"), "bob talks after the resume");
        Check(after.Ok && after.Value.delivered == 2, "bob talks after the resume: " + after);
        Check(await Eventually(() => alice.Texts.Contains("back")), "alice hears bob after his resume");

        var ended = new TaskCompletionSource<ushort>();
        alice.Client.Disconnected += (status, why) => ended.TrySetResult(status);
        await alice.Client.Close();
        Check(await Within(ended.Task, "Disconnected") == Status.Unavailable, "alice closes: Disconnected raised");
        var closed = await alice.Client.list_rooms();
        Check(!closed.Ok && closed.Status == Status.Unavailable, "a call after Close: unavailable");
        await bob.Client.Close();
    }

    /// <summary>A session with nothing to say for 4 idle timeouts of the server: the client's
    /// pings keep it (no lost connection, no resume).</summary>
    static async Task Idle(int idleMs)
    {
        Console.WriteLine("-- idle for " + 4 * idleMs + " ms (the server's idle timeout: " + idleMs + " ms)");
        var carol = new Player("carol", new ClientOptions());
        await connectA(carol.Client);
        var l = await Within(carol.Client.login("carol", "pw"), "carol logs in");
        Check(l.Ok, "carol signs in: " + l);
        await Task.Delay(4 * idleMs);
        var r = await Within(carol.Client.list_rooms(), "list rooms after the wait");
        Check(r.Ok, "a call after " + 4 * idleMs + " ms of silence: " + r);
        Check(carol.Client.Resumes == 0, "pings kept the connection: no resume (" + carol.Client.Resumes + ")");
        await carol.Client.Close();
    }

    /// <summary>On a server that keeps no session after its connection (resume_grace 0), a
    /// dropped connection ends the session: Disconnected with Unavailable, the call in flight
    /// and later ones end with Unavailable.</summary>
    static async Task NoResume()
    {
        Console.WriteLine("-- a server without resume");
        var dave = new Player("dave", new ClientOptions());
        var ended = new TaskCompletionSource<ushort>();
        dave.Client.Disconnected += (code, why) => ended.TrySetResult(code);
        await connectA(dave.Client);
        var l = await Within(dave.Client.login("dave", "pw"), "dave logs in");
        Check(l.Ok, "dave signs in: " + l);
        var inFlight = dave.Client.list_rooms();
        dave.Client.DropConnection();
        var status = await Within(ended.Task, "Disconnected");
        Check(status == Status.Unavailable, "the dropped connection ends the session: Disconnected, " + Status.NameOf(status));
        var r = await Within(inFlight, "the call in flight");
        Check(r.Ok || r.Status == Status.Unavailable, "the call in flight: answered before the drop or unavailable (" + r + ")");
        var after = await dave.Client.list_rooms();
        Check(!after.Ok && after.Status == Status.Unavailable, "a call after the end: unavailable (" + after + ")");
        Check(dave.Client.Resumes == 0, "no resume tried to succeed");
    }

    static int Main(string[] args)
    {
        try
        {
            switch (args[0])
            {
                case "tcp":
                    connectA = connectB = c => c.ConnectTcp(args[1], int.Parse(args[2]));
                    Play("TCP", false).Wait();
                    Play("TCP", true).Wait();
                    break;
                case "ws":
                    connectA = connectB = c => c.ConnectWebSocket(new Uri(args[1]));
                    Play("WebSocket", false).Wait();
                    Play("WebSocket", true).Wait();
                    break;
                case "idle":
                    connectA = c => c.ConnectWebSocket(new Uri(args[1]));
                    Idle(int.Parse(args[2])).Wait();
                    break;
                case "noresume":
                    connectA = c => c.ConnectTcp(args[1], int.Parse(args[2]));
                    NoResume().Wait();
                    break;
                case "mixed":
                    connectA = c => c.ConnectTcp(args[1], int.Parse(args[2]));
                    connectB = c => c.ConnectWebSocket(new Uri(args[3]));
                    Play("alice on TCP, bob on WebSocket", false).Wait();
                    break;
                default:
                    Console.Error.WriteLine("usage: chat_test.exe tcp HOST PORT | ws URI | mixed HOST PORT URI");
                    return 2;
            }
        }
        catch (Exception e)
        {
            Console.WriteLine("FAIL " + e);
            return 1;
        }
        Console.WriteLine(failures == 0 ? "chat_test: all checks passed" : "chat_test: " + failures + " failures");
        return failures == 0 ? 0 : 1;
    }
}
