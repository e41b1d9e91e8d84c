// ember-master's services: a memcached that the config names on this machine (loopback) and
// that nobody runs is started by the master before the servers and stopped after them, so a
// development cluster or the demo needs nothing else running. Started the way the data layer
// requires: no eviction (-M -o slab_automove=0). A memcached run elsewhere is left alone.
#pragma once

#include <arpa/inet.h>
#include <netdb.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "ember/app/config.hpp"
#include "supervisor.hpp"

namespace ember::master {

/// True if something accepts TCP connections on `host:port` (loopback only: no waiting).
inline bool accepting(const std::string& host, std::uint16_t port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) return false;
  bool ok = false;
  for (auto* a = found; a && !ok; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    ok = ::connect(fd, a->ai_addr, a->ai_addrlen) == 0;
    ::close(fd);
  }
  ::freeaddrinfo(found);
  return ok;
}

inline bool loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

/// The memcached servers the master should run: those of the config on loopback that no
/// process serves, when a server it runs has `"mem": true`. `memory_mb` is each one's -m.
inline std::vector<service> memcached_services(const app::cluster_config& c, const std::vector<std::string>& only,
                                               const std::string& binary, int memory_mb = 64) {
  std::vector<service> out;
  if (!c.memcached) return out;
  bool needed = false;
  for (const auto& s : c.servers)
    needed = needed || (s.mem && (only.empty() || std::find(only.begin(), only.end(), s.name) != only.end()));
  if (!needed) return out;
  for (const auto& m : c.memcached->servers) {
    if (!loopback(m.host) || accepting(m.host, m.port)) continue;
    service svc{"memcached:" + std::to_string(m.port),
                {binary, "-l", m.host, "-p", std::to_string(m.port), "-U", "0", "-m", std::to_string(memory_mb),
                 "-M", "-o", "slab_automove=0"},
                [host = m.host, port = m.port] { return accepting(host, port); }};
    if (::geteuid() == 0)  // memcached refuses to run as root
      svc.argv.insert(svc.argv.end(), {"-u", ::getpwnam("memcache") ? "memcache" : "nobody"});
    out.push_back(std::move(svc));
  }
  return out;
}

}  // namespace ember::master
