// The chat example's own service (examples/chat/chat_server.cpp, compiled into this file) on a
// server that also listens for WebSocket (server_options::websocket_port), for the C# client's
// WebSocket test: examples/chat/chat_server has no WebSocket flag in this tree.
//
// usage: chat_ws_server PORT_FILE [IDLE_MS [GRACE_MS]]   (writes "TCP_PORT WS_PORT"; SIGTERM
//        stops it; IDLE_MS: the idle timeout, short to see that the client's pings keep a
//        session alive; GRACE_MS: resume_grace, 0 for sessions that end with their connection)
#define main chat_example_main
#include "../../../examples/chat/chat_server.cpp"
#undef main

int main(int argc, char** argv) {
  if (argc < 2 || argc > 4) {
    std::fprintf(stderr, "usage: %s PORT_FILE [IDLE_MS [GRACE_MS]]\n", argv[0]);
    return EXIT_FAILURE;
  }
  ember::net::server_options options{.name = "chat", .port = 0, .websocket_port = 0};
  if (argc >= 3) options.idle_timeout = std::chrono::milliseconds(std::atoi(argv[2]));
  if (argc >= 4) options.resume_grace = std::chrono::milliseconds(std::atoi(argv[3]));
  ember::log::set_tag("chat-ws");
  asio::io_context io;
  ember::net::server server(io, options);
  chat_service service(server);
  ember::net::dispatch_table table;
  chat::register_commands(table, service);
  server.set_table(std::move(table));
  server.start();
  std::ofstream(argv[1]) << server.port() << " " << server.websocket_port() << "\n";
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code ec, int) {
    if (ec) return;
    asio::co_spawn(io, server.stop(), [&](std::exception_ptr e) {
      ember::log_escaped("stop", e);
      io.stop();
    });
  });
  io.run();
  return EXIT_SUCCESS;
}
