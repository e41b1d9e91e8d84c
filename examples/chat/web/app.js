// The chat page's logic: connect, log in, join a room, show what is said there, say things.
// `Client` is generated from examples/chat/chat.toml by `ember-codegen --lang ts` and compiled
// with tsc into ./gen/ (README.md). The page's query string may fill the form and connect at
// once: ?server=ws://127.0.0.1:7002/&user=alice&room=lobby&connect=1 (tests use it).
import { Client } from "./gen/chat.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
for (const key of ["server", "user", "password", "room"]) {
  if (params.has(key)) $(key).value = params.get(key);
}
if (!$("user").value) $("user").value = `guest${Math.floor(Math.random() * 1000)}`;

let client;
let room;

function status(state, text) {
  $("status").dataset.state = state;
  $("status").textContent = text;
}

function show(from, text, cls) {
  const li = document.createElement("li");
  if (cls) li.className = cls;
  if (from) {
    const who = document.createElement("span");
    who.className = "from";
    who.textContent = from;
    li.append(who);
  }
  li.append(text);
  $("log").append(li);
  $("log").scrollTop = $("log").scrollHeight;
}

async function connect() {
  $("connect").disabled = true;
  room = $("room").value;
  const user = $("user").value;
  status("connecting", `connecting to ${$("server").value} ...`);
  client = new Client({ url: $("server").value });
  client.onChatMessage((m) => show(m.from, m.text, m.from === user ? "mine" : "theirs"));
  client.onResumed(() => status("online", `online as ${user} in ${room} (resumed)`));
  client.onClosed((why) => {
    status("error", `disconnected: ${why.message}`);
    $("text").disabled = $("say").disabled = true;
    $("connect").disabled = false;
  });
  try {
    await client.connect();
  } catch (e) {
    status("error", `could not connect: ${e.message}`);
    $("connect").disabled = false;
    return;
  }
  const login = await client.login({ user, password: $("password").value });
  if (!login.ok) {
    status("error", `login failed: ${login.error.message}`);
    client.close();
    return;
  }
  show("", login.value.motd, "system");
  const joined = await client.join_room({ room });
  if (!joined.ok) {
    status("error", `could not join ${room}: ${joined.error.message}`);
    return;
  }
  show("", `joined ${joined.value.room.name} (${joined.value.room.members} here)`, "system");
  status("online", `online as ${user} in ${room} (session ${client.sessionId})`);
  $("text").disabled = $("say").disabled = false;
  $("text").focus();
}

$("connect-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  void connect();
});
$("say-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const text = $("text").value;
  if (!text || !client) return;
  $("text").value = "";
  const r = await client.say({ room, text });
  if (!r.ok) show("", `not said (${r.error.code}): ${r.error.message}`, "system");
});
if (params.get("connect") === "1") void connect();
