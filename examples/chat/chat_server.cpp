// The chat example's server: log in, join rooms, say things; a line said in a room is pushed
// to every member of the room (a group). Shows one coroutine per command, game errors, groups,
// a handler given its server at construction, and a graceful stop on Ctrl-C.
//
// usage: chat_server [--port N] [--port-file PATH] [--websocket-port N] [--origin URL]...
//                    [--tls-cert PATH --tls-key PATH] [--idle-timeout-ms N] [--resume-grace-ms N]
//
// --websocket-port opens a second port for browsers (PROTOCOL.md §11; 0 picks a free one) and
// --origin allows a web page's origin (`http://127.0.0.1:8080`, or `*`) on it; --port-file then
// holds both ports, one a line. --tls-cert and --tls-key make both ports speak TLS (wss://).
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>

#include "chat_server.hpp"
#include "ember/log.hpp"
#include "ember/spawn.hpp"
#include "ember/net/server.hpp"

namespace {

std::uint64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

class chat_service final : public chat::chat_handler {
 public:
  /// The service lists and counts the rooms of `server` (its groups).
  explicit chat_service(const ember::net::server& server) : server_(server) {}

  asio::awaitable<chat::login_reply> login(ember::net::session& s, const chat::login_request& req) override {
    // A real game checks a password store; here any non-empty password that is not "wrong" works.
    if (req.user.empty() || req.password.empty() || req.password == "wrong") chat::fail(chat::error::bad_password);
    auto& id = users_[req.user];
    if (id == 0) id = users_.size();
    s.bind_user(id);
    s.set_attribute("name", req.user);
    ember::log::info("{} logged in as user {}", req.user, id);
    co_return chat::login_reply{id, "welcome to ember chat, " + req.user};
  }

  asio::awaitable<chat::join_room_reply> join_room(ember::net::session& s, const chat::join_room_request& req) override {
    require_login(s);
    s.join("room:" + req.room);
    co_return chat::join_room_reply{info(req.room)};
  }

  asio::awaitable<chat::leave_room_reply> leave_room(ember::net::session& s, const chat::leave_room_request& req) override {
    require_login(s);
    s.leave("room:" + req.room);
    co_return chat::leave_room_reply{};
  }

  asio::awaitable<chat::say_reply> say(ember::net::session& s, const chat::say_request& req) override {
    require_login(s);
    if (!s.in_group("room:" + req.room)) chat::fail(chat::error::not_in_room);
    chat::chat_message msg{req.room, std::string(*s.attribute("name")), req.text, now_ms()};
    s.broadcast("room:" + req.room, msg);
    co_return chat::say_reply{static_cast<std::uint32_t>(server_.groups().members("room:" + req.room).size())};
  }

  asio::awaitable<chat::list_rooms_reply> list_rooms(ember::net::session&, const chat::list_rooms_request&) override {
    chat::list_rooms_reply reply;
    server_.groups().for_each([&](std::string_view name, std::size_t) {
      if (name.starts_with("room:")) reply.rooms.push_back(info(std::string(name.substr(5))));
    });
    co_return reply;
  }

 private:
  static void require_login(ember::net::session& s) {
    if (!s.user()) chat::fail(chat::error::not_logged_in);
  }
  chat::room_info info(const std::string& room) const {
    auto members = server_.groups().members("room:" + room).size();
    return {room, static_cast<std::uint32_t>(members), room == "lobby" ? chat::room_kind::lobby : chat::room_kind::open};
  }
  const ember::net::server& server_;
  std::map<std::string, std::uint64_t> users_;
};

}  // namespace

int main(int argc, char** argv) {
  std::uint16_t port = 7001;
  std::string port_file;
  std::optional<std::uint16_t> websocket_port;
  std::vector<std::string> origins;
  ember::net::server_options options{.name = "chat"};
  ember::net::tls_server_options tls;  // --tls-cert and --tls-key: clients connect over TLS
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--port" && i + 1 < argc) port = static_cast<std::uint16_t>(std::atoi(argv[++i]));
    else if (a == "--port-file" && i + 1 < argc) port_file = argv[++i];
    else if (a == "--websocket-port" && i + 1 < argc) websocket_port = static_cast<std::uint16_t>(std::atoi(argv[++i]));
    else if (a == "--origin" && i + 1 < argc) origins.emplace_back(argv[++i]);
    else if (a == "--tls-cert" && i + 1 < argc) tls.cert_file = argv[++i];
    else if (a == "--tls-key" && i + 1 < argc) tls.key_file = argv[++i];
    else if (a == "--idle-timeout-ms" && i + 1 < argc) options.idle_timeout = std::chrono::milliseconds(std::atoi(argv[++i]));
    else if (a == "--resume-grace-ms" && i + 1 < argc) options.resume_grace = std::chrono::milliseconds(std::atoi(argv[++i]));
    else {
      const bool help = a == "--help" || a == "-h";
      std::fprintf(help ? stdout : stderr,
                   "usage: %s [--port N] [--port-file PATH] [--websocket-port N] [--origin URL]...\n"
                   "          [--tls-cert PATH --tls-key PATH] [--idle-timeout-ms N]\n"
                   "          [--resume-grace-ms N (0: sessions end with their connection)]\n",
                   argv[0]);
      return help ? EXIT_SUCCESS : EXIT_FAILURE;
    }
  }
  ember::log::set_tag("chat");
  asio::io_context io;
  // The server first, then the service that uses it, then the server's commands.
  options.port = port;
  options.websocket_port = websocket_port;
  options.websocket_origins = origins;
  if (!tls.cert_file.empty() || !tls.key_file.empty()) {
    if (!std::ifstream(tls.cert_file) || !std::ifstream(tls.key_file)) {
      ember::log::error("--tls-cert and --tls-key need a readable PEM certificate and key");
      return EXIT_FAILURE;
    }
    options.tls = tls;
  }
  ember::net::server server(io, options);
  chat_service service(server);
  ember::net::dispatch_table table;
  chat::register_commands(table, service);
  server.set_table(std::move(table));
  try {
    server.start();
  } catch (const std::system_error& e) {
    ember::log::error("cannot listen on port {}: {} (is another server running?)", port, e.what());
    return EXIT_FAILURE;
  }
  if (!port_file.empty()) {
    std::ofstream out(port_file);
    out << server.port() << "\n";
    if (websocket_port) out << server.websocket_port() << "\n";
  }

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code ec, int) {
    if (ec) return;
    ember::log::info("stopping");
    asio::co_spawn(io, server.stop(), [&](std::exception_ptr e) {
      ember::log_escaped("stop", e);
      io.stop();
    });
  });
  io.run();
  return EXIT_SUCCESS;
}
