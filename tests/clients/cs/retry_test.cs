// The generated C# client's retries (Ember.CallOptions: Retries, RequestId, Timeout) against
// retry_server (tests/clients/retry_server.cpp): a real gateway that gives a forwarded request
// 300 ms, in front of a real game backend whose `step` takes as long as it is told. A call
// retried after OutcomeUnknown carries the same request id, and the game's reply cache answers
// the retry with the first run's reply: `runs` counts one run. Then a pair of client-facing
// servers, one of which drains: the client follows its `moved` push to the other.
//
// usage: mono retry_test.exe tcp HOST PORT | ws URI | unavailable HOST PORT
//                          | move ADDRESS ADDRESS2 SERVER_PID   (retry.py runs it; an ADDRESS is
//                            HOST:PORT or a ws:// URI, ADDRESS2 net2's, SIGUSR1 drains net1)
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Ember;
using routetest;

static class RetryTest
{
    static void Fail(string why)
    {
        Console.Error.WriteLine("FAIL: " + why);
        Environment.Exit(1);
    }

    static T Ok<T>(Result<T> r, string what)
    {
        if (!r.Ok) Fail(what + ": " + r.Status + " " + r.Message);
        return r.Value;
    }

    static async Task<uint> Runs(Client c, uint n)
    {
        return Ok(await c.runs(n), "runs " + n).runs;
    }

    static async Task<Client> Connected(string[] args)
    {
        var c = new Client(new ClientOptions { Log = m => Console.WriteLine("client: " + m) });
        if (args[0] == "ws") await c.ConnectWebSocket(new Uri(args[1]));
        else await c.ConnectTcp(args[1], int.Parse(args[2]));
        return c;
    }

    static async Task Retries(string[] args)
    {
        var c = await Connected(args);
        // 450 ms outlasts the gateway's 300: the first attempt ends with OutcomeUnknown while
        // the game runs the step; the retry carries the same id and gets that run's reply.
        var r = await c.step(new step_request { n = 1, delay_ms = 450 },
                             new CallOptions { Timeout = TimeSpan.FromSeconds(5), Retries = 3 });
        if (Ok(r, "step 1 with retries").n != 1) Fail("step 1: wrong reply");
        if (await Runs(c, 1) != 1) Fail("step 1 retried after outcome_unknown ran more than once");
        Console.WriteLine("ok: a step retried after OutcomeUnknown ran once");

        // Without retries the caller hears the unknown outcome.
        var once = await c.step(new step_request { n = 2, delay_ms = 450 });
        if (once.Ok || once.Status != Status.OutcomeUnknown) Fail("step 2 without retries: " + once);
        if (Status.NameOf(once.Status) != "outcome_unknown") Fail("Status.NameOf(15): " + Status.NameOf(once.Status));
        Console.WriteLine("ok: without retries the call ends with OutcomeUnknown: " + once.Message);

        // A caller that keeps its id and sends again by itself: the second answer is the first
        // run's, and only a new id runs again.
        ulong id = c.NewRequestId();
        Ok(await c.step(new step_request { n = 3 }, new CallOptions { RequestId = id }), "step 3");
        Ok(await c.step(new step_request { n = 3 }, new CallOptions { RequestId = id }), "step 3 again");
        if (await Runs(c, 3) != 1) Fail("step 3 sent twice with one request id ran twice");
        Ok(await c.step(new step_request { n = 3 }, new CallOptions { RequestId = c.NewRequestId() }), "step 3, new id");
        if (await Runs(c, 3) != 2) Fail("step 3 with a new request id did not run");
        Console.WriteLine("ok: the same request id twice runs once; a new id runs again");

        // Retries stop at the call's deadline: a step of 3 s, a deadline of 1 s, 100 retries allowed.
        var watch = Stopwatch.StartNew();
        var late = await c.step(new step_request { n = 4, delay_ms = 3000 },
                                new CallOptions { Timeout = TimeSpan.FromSeconds(1), Retries = 100 });
        if (late.Ok || (late.Status != Status.OutcomeUnknown && late.Status != Status.Timeout))
            Fail("step 4 past its deadline: " + late);
        if (watch.ElapsedMilliseconds > 10000) Fail("step 4 with a deadline of 1 s took " + watch.ElapsedMilliseconds + " ms");
        var end = DateTime.UtcNow.AddSeconds(10);
        while (await Runs(c, 4) == 0)
        {
            if (DateTime.UtcNow > end) Fail("step 4 never ran");
            await Task.Delay(100);
        }
        await Task.Delay(500);
        if (await Runs(c, 4) != 1) Fail("step 4 ran more than once");
        Console.WriteLine("ok: retries end at the call's deadline (" + Status.NameOf(late.Status) + "), and the step ran once");

        // Retries out of range are refused before anything is sent.
        try
        {
            await c.step(new step_request { n = 6 }, new CallOptions { Retries = -1 });
            Fail("Retries -1 was taken");
        }
        catch (ArgumentOutOfRangeException) { }
        if (await Runs(c, 6) != 0) Fail("a refused call ran");
        Console.WriteLine("ok: Retries out of range are refused");
        await c.Close();
    }

    // The game links only once the gateway has refused a request (Unavailable: it was not run).
    static async Task Unavailable(string[] args)
    {
        var c = await Connected(args);
        var first = await c.step(new step_request { n = 1 },
                                 new CallOptions { Timeout = TimeSpan.FromSeconds(10), Retries = 50 });
        Ok(first, "step 1 while the game links");
        if (await Runs(c, 1) != 1) Fail("step 1 retried after Unavailable ran more than once");
        Console.WriteLine("ok: a call refused with Unavailable is retried until the game is there, and runs once");
        await c.Close();
    }

    // A server that drains moves its sessions (PROTOCOL.md §3, "Moving to another server"): the
    // client resumes at the other server, over the same kind of connection. The steps in
    // flight run once, every push arrives once and in order, and the game's view of the
    // session (its user) follows it.
    static async Task Move(string[] args)
    {
        var c = new Client(new ClientOptions { Log = m => Console.WriteLine("client: " + m) });
        var notes = new List<string>();
        c.note += n => { lock (notes) notes.Add(n.text); };
        int resumes = 0;
        c.Resumed += () => Interlocked.Increment(ref resumes);
        if (args[1].StartsWith("ws://")) await c.ConnectWebSocket(new Uri(args[1]));
        else await c.ConnectTcp(args[1].Split(':')[0], int.Parse(args[1].Split(':')[1]));
        Ok(await c.login(42, true), "login");
        var calls = new List<Task>();
        var patient = new CallOptions { Timeout = TimeSpan.FromSeconds(20) };
        for (uint k = 1; k <= 30; ++k)
        {
            uint n = k;
            calls.Add(c.step(new step_request { n = 100 + n, delay_ms = (n % 3) * 10 }, patient)
                       .ContinueWith(r => Ok(r.Result, "step " + (100 + n))));
            calls.Add(c.note_me(new note_me_request { text = n.ToString() }, patient)
                       .ContinueWith(r => Ok(r.Result, "note_me " + n)));
        }
        await Task.Delay(30);
        using (var kill = Process.Start("kill", "-USR1 " + args[3])) kill.WaitForExit();
        await Task.WhenAll(calls);
        var end = DateTime.UtcNow.AddSeconds(20);
        var there = args[2].StartsWith("ws://") ? new Uri(args[2]).ToString() : args[2];
        while (c.Address != there || !c.Connected)
        {
            if (DateTime.UtcNow > end) Fail("the client did not resume at " + args[2] + " (it is at " + c.Address + ")");
            await Task.Delay(10);
        }
        if (Volatile.Read(ref resumes) < 1) Fail("the client reached net2 without a resume");
        var me = Ok(await c.whoami(), "whoami on net2");
        if (me.user != 42) Fail("the game sees user " + me.user + " after the move, not 42");
        for (uint k = 1; k <= 30; ++k)
            if (await Runs(c, 100 + k) != 1) Fail("step " + (100 + k) + " did not run exactly once across the move");
        Ok(await c.note_me("after"), "note_me after the move");
        end = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            lock (notes) if (notes.Count >= 31) break;
            if (DateTime.UtcNow > end) Fail("the push after the move did not arrive");
            await Task.Delay(10);
        }
        var want = Enumerable.Range(1, 30).Select(i => i.ToString()).Concat(new[] { "after" });
        lock (notes)
            if (!notes.SequenceEqual(want)) Fail("pushes across the move: " + string.Join(",", notes));
        Console.WriteLine("ok: a drained server moved the session to " + c.Address + ": 30 steps ran once, 31 pushes once and in order");
        await c.Close();
    }

    static int Main(string[] args)
    {
        if (args.Length < 2)
        {
            Console.Error.WriteLine("usage: retry_test.exe tcp HOST PORT | ws URI | unavailable HOST PORT | move ADDRESS ADDRESS2 SERVER_PID");
            return 2;
        }
        var timeout = Task.Delay(TimeSpan.FromSeconds(60));
        var test = args[0] == "unavailable" ? Unavailable(args) : args[0] == "move" ? Move(args) : Retries(args);
        if (Task.WhenAny(test, timeout).Result != test) Fail("the test took more than 60 s");
        test.Wait();
        Console.WriteLine("retry_test " + args[0] + ": all passed");
        return 0;
    }
}
