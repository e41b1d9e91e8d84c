// ember: a memcached client on libmemcached 1.1 (binary protocol, consistent hashing). A
// `memcache_conn` is one blocking connection set for one thread; `memcache` owns a worker_pool
// with one `memcache_conn` per worker and offers the same operations as awaitables, so the io
// thread never blocks on memcached.
#pragma once

#include <cerrno>
#include <cstdlib>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <netinet/in.h>

#include <libmemcached/memcached.h>

#include <asio/awaitable.hpp>

#include "ember/data/error.hpp"
#include "ember/data/worker_pool.hpp"

namespace ember::data {

/// How to reach a memcached cluster.
struct memcache_options {
  /// "host:port" (or "[v6addr]:port") of every server; keys are spread over them by ketama.
  std::vector<std::string> servers;
  /// Prepended to every key (e.g. "world1:"); counts towards memcached's 250-byte key limit.
  std::string key_prefix;
  /// Bounds connecting, and each wait for a server to accept or answer a request.
  std::chrono::milliseconds timeout{500};
  /// Worker threads (and connections to each server) of a `memcache`.
  std::size_t workers = 4;
};

/// A value read from memcached.
struct cache_item {
  std::string value;       ///< the bytes stored (may hold NULs)
  std::uint64_t cas = 0;   ///< token for a later `cas()` of this key
  std::uint32_t flags = 0; ///< the flags stored with the value
};

/// The outcome of a store operation; expected outcomes, never exceptions.
enum class store_result {
  stored,      ///< the value was written
  not_stored,  ///< add: the key exists; replace: the key is missing
  exists,      ///< cas: someone changed the value since it was read (token mismatch)
  not_found,   ///< cas: the key is missing (expired, evicted or removed)
};

/// The enumerator's name, for logs.
inline const char* to_string(store_result r) noexcept {
  switch (r) {
    case store_result::stored: return "stored";
    case store_result::not_stored: return "not_stored";
    case store_result::exists: return "exists";
    case store_result::not_found: return "not_found";
  }
  return "?";
}

/// memcached refuses keys longer than this (prefix included).
inline constexpr std::size_t memcache_max_key = 250;

namespace detail {

struct memcache_server_address {
  std::string host;
  in_port_t port = 0;
};

/// Parses "host:port" or "[v6]:port"; throws std::invalid_argument naming the bad entry.
inline memcache_server_address parse_memcache_server(const std::string& text) {
  const auto bad = [&] { return std::invalid_argument("memcache server '" + text + "' is not host:port"); };
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) throw bad();
  std::string host = text.substr(0, colon);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') throw bad();
    host = host.substr(1, host.size() - 2);
  }
  unsigned long port = 0;
  for (char c : std::string_view(text).substr(colon + 1)) {
    if (c < '0' || c > '9') throw bad();
    port = port * 10 + static_cast<unsigned long>(c - '0');
    if (port > 65535) throw bad();
  }
  if (port == 0) throw bad();
  return {std::move(host), static_cast<in_port_t>(port)};
}

/// Failures that mean "this server cannot be reached right now", as opposed to a refusal.
inline bool memcache_unreachable(memcached_return_t rc) noexcept {
  switch (rc) {
    case MEMCACHED_HOST_LOOKUP_FAILURE:
    case MEMCACHED_CONNECTION_FAILURE:
    case MEMCACHED_CONNECTION_BIND_FAILURE:
    case MEMCACHED_WRITE_FAILURE:
    case MEMCACHED_READ_FAILURE:
    case MEMCACHED_UNKNOWN_READ_FAILURE:
    case MEMCACHED_ERRNO:
    case MEMCACHED_TIMEOUT:
    case MEMCACHED_SERVER_MARKED_DEAD:
    case MEMCACHED_SERVER_TEMPORARILY_DISABLED:
    case MEMCACHED_NO_SERVERS:
    case MEMCACHED_SOME_ERRORS:
    case MEMCACHED_ERROR:  // also MEMCACHED_CONNECTION_SOCKET_CREATE_FAILURE
      return true;
    default:
      return false;
  }
}

/// memcached reads expirations over 30 days as absolute Unix times.
inline time_t memcache_expiration(std::chrono::seconds expiry) {
  constexpr std::int64_t relative_limit = 60 * 60 * 24 * 30;
  if (expiry.count() < 0) throw std::invalid_argument("memcache expiry must not be negative");
  if (expiry.count() <= relative_limit) return static_cast<time_t>(expiry.count());  // 0: never
  return std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()) +
         static_cast<time_t>(expiry.count());
}

}  // namespace detail

/// One libmemcached handle over every server, for one thread at a time (blocking calls; a
/// `memcached_st` is not thread-safe). Inside a `memcache` it lives on one worker; use it
/// directly through `memcache::with_conn`.
///
/// Misses, CAS conflicts and refused adds are return values. A server that is down, refuses
/// connections or does not answer within `timeout` raises `data_error(cache_unavailable)`
/// naming "host:port"; a refusal by the server (value too large, out of memory under `-M`)
/// raises `data_error(cache_error)`; a key that is empty or over 250 bytes with its prefix
/// raises std::invalid_argument before anything is sent.
///
/// Failed servers are never ejected (keys would move to another server, which would later serve
/// stale values that CAS accepts); a failed server answers with `cache_unavailable` at once
/// until libmemcached retries it, within the next whole second. A request whose established
/// connection turns out broken (the server restarted since) is sent once more on a fresh one.
class memcache_conn {
 public:
  /// Configures the handle; nothing connects until the first request.
  explicit memcache_conn(const memcache_options& options) : prefix_(options.key_prefix), timeout_(options.timeout) {
    if (options.servers.empty()) throw std::invalid_argument("memcache_options.servers is empty");
    if (options.timeout.count() <= 0) throw std::invalid_argument("memcache_options.timeout must be positive");
    if (prefix_.size() >= memcache_max_key) throw std::invalid_argument("memcache key_prefix is too long");
    memc_ = memcached_create(nullptr);
    if (!memc_) throw std::bad_alloc();
    try {
      configure(options);
    } catch (...) {
      memcached_free(memc_);
      throw;
    }
    // Caller-owned result: memcached_fetch_result frees a heap-allocated one when it ends.
    memcached_result_create(memc_, &result_);
  }
  memcache_conn(const memcache_conn&) = delete;
  memcache_conn& operator=(const memcache_conn&) = delete;
  ~memcache_conn() {
    memcached_result_free(&result_);
    memcached_free(memc_);
  }

  /// The value of `key`, or nullopt on a miss.
  std::optional<cache_item> get(std::string_view key) {
    std::vector<std::optional<cache_item>> out(1);
    std::vector<std::string> full{full_key(key)};
    fetch(full, out);
    return std::move(out.front());
  }

  /// The values of `keys` in the same order (nullopt for each miss), in one round trip per
  /// server. Throws `cache_unavailable` if any server involved fails: a miss always means the
  /// key is absent, never "unknown".
  std::vector<std::optional<cache_item>> get_multi(std::span<const std::string> keys) {
    std::vector<std::optional<cache_item>> out(keys.size());
    if (keys.empty()) return out;
    std::vector<std::string> full;
    full.reserve(keys.size());
    for (const auto& k : keys) full.push_back(full_key(k));
    fetch(full, out);
    return out;
  }

  /// Stores `value` whatever the key holds.
  store_result set(std::string_view key, std::string_view value, std::uint32_t flags = 0,
                   std::chrono::seconds expiry = {}) {
    return store(op::set, key, value, flags, expiry, 0);
  }
  /// Stores `value` only if the key is missing (`not_stored` otherwise).
  store_result add(std::string_view key, std::string_view value, std::uint32_t flags = 0,
                   std::chrono::seconds expiry = {}) {
    return store(op::add, key, value, flags, expiry, 0);
  }
  /// Stores `value` only if the key exists (`not_stored` otherwise).
  store_result replace(std::string_view key, std::string_view value, std::uint32_t flags = 0,
                       std::chrono::seconds expiry = {}) {
    return store(op::replace, key, value, flags, expiry, 0);
  }
  /// Stores `value` only if the key still holds the version `cas` read by get(): `exists` if
  /// it changed since, `not_found` if it is gone.
  store_result cas(std::string_view key, std::string_view value, std::uint64_t cas, std::uint32_t flags = 0,
                   std::chrono::seconds expiry = {}) {
    return store(op::cas, key, value, flags, expiry, cas);
  }

  /// Deletes `key`; false if it was missing.
  bool remove(std::string_view key) {
    const auto& k = key_buffer(key);
    const auto rc = attempt([&] { return memcached_delete(memc_, k.data(), k.size(), 0); });
    if (rc == MEMCACHED_SUCCESS || rc == MEMCACHED_DELETED) return true;
    if (rc == MEMCACHED_NOTFOUND) return false;
    fail(rc, k);
  }

  /// Adds `delta` to the decimal counter at `key` and returns the new value; a missing key is
  /// created holding `initial` (without `delta`), which is returned. A value that is not a
  /// decimal number raises `cache_error`. Like every request it is sent again once on a
  /// connection found broken: only a server that died after applying it could count it twice,
  /// and such a server comes back empty.
  std::uint64_t increment(std::string_view key, std::uint64_t delta, std::uint64_t initial = 0,
                          std::chrono::seconds expiry = {}) {
    const auto& k = key_buffer(key);
    const auto exp = detail::memcache_expiration(expiry);
    std::uint64_t value = 0;
    const auto rc = attempt([&] {
      return memcached_increment_with_initial(memc_, k.data(), k.size(), delta, initial, exp, &value);
    });
    if (rc == MEMCACHED_SUCCESS) return value;
    // libmemcached turns memcached's "non-numeric value" status into UNKNOWN_READ_FAILURE, as
    // it does a garbled reply: look at the value to tell a refusal from a broken server.
    if (rc == MEMCACHED_UNKNOWN_READ_FAILURE) {
      const std::string full = k;
      if (const auto item = get(key); item && !is_counter(item->value))
        throw data_error(data_errc::cache_error,
                         server_name(full) + ": cannot increment '" + full + "', its value is not a decimal counter");
      fail(rc, full);
    }
    fail(rc, k);
  }

  /// Empties every server (for tests and tools).
  void flush() {
    const auto rc = memcached_flush(memc_, 0);
    if (rc != MEMCACHED_SUCCESS) fail(rc, {});
  }

  /// "host:port" of the server that holds `key`.
  std::string server_of(std::string_view key) { return server_name(key_buffer(key)); }

  /// The value of `key` kept on the server that holds `group` (a key of its own there), or
  /// nullopt on a miss. Per-server bookkeeping (the data layer's restart sentinel) uses it.
  std::optional<cache_item> get_on(std::string_view group, std::string_view key) {
    const auto g = full_key(group);
    const auto& k = key_buffer(key);
    std::size_t length = 0;
    std::uint32_t flags = 0;
    memcached_return_t rc = MEMCACHED_SUCCESS;
    char* value = nullptr;
    rc = attempt([&] {
      value = memcached_get_by_key(memc_, g.data(), g.size(), k.data(), k.size(), &length, &flags, &rc);
      return rc;
    });
    if (rc == MEMCACHED_NOTFOUND) return std::nullopt;
    if (rc != MEMCACHED_SUCCESS) {
      std::free(value);
      fail(rc, g);
    }
    cache_item item{std::string(value ? value : "", length), 0, flags};
    std::free(value);
    return item;
  }
  /// Stores `value` under `key` on the server that holds `group`, only if it is missing there.
  store_result add_on(std::string_view group, std::string_view key, std::string_view value) {
    const auto g = full_key(group);
    const auto& k = key_buffer(key);
    const auto rc = attempt(
        [&] { return memcached_add_by_key(memc_, g.data(), g.size(), k.data(), k.size(), value.data(), value.size(), 0, 0); });
    if (rc == MEMCACHED_SUCCESS || rc == MEMCACHED_STORED) return store_result::stored;
    if (rc == MEMCACHED_NOTSTORED || rc == MEMCACHED_DATA_EXISTS) return store_result::not_stored;
    fail(rc, g);
  }

  /// One group key per server, in server order: `get_on(groups[i], ...)` reaches server i.
  const std::vector<std::string>& server_groups() {
    if (groups_.empty()) {
      const auto n = memcached_server_count(memc_);
      std::vector<std::string> by_server(n);
      std::size_t found = 0;
      // Ketama spreads these evenly: a few tries per server find one that lands there.
      for (std::size_t i = 0; found < n && i < 64 * n + 64; ++i) {
        const std::string group = "ember:server:" + std::to_string(i);
        const auto name = server_name(prefix_ + group);
        for (std::size_t s = 0; s < n; ++s) {
          if (by_server[s].empty() && instance_name(memcached_server_instance_by_position(memc_, s)) == name) {
            by_server[s] = group;
            ++found;
          }
        }
      }
      if (found < n) throw data_error(data_errc::cache_error, "memcache: no group key reaches every server");
      groups_ = std::move(by_server);
    }
    return groups_;
  }

  /// `stats ARGS` of every server ("" for the general figures, "settings" for its options):
  /// "host:port" -> name -> value.
  std::map<std::string, std::map<std::string, std::string>> stats(const char* args) {
    std::map<std::string, std::map<std::string, std::string>> out;
    const auto collect = [](const memcached_instance_st* server, const char* key, size_t key_length,
                            const char* value, size_t value_length, void* context) -> memcached_return_t {
      auto& all = *static_cast<std::map<std::string, std::map<std::string, std::string>>*>(context);
      all[instance_name(server)][std::string(key, key_length)] = std::string(value, value_length);
      return MEMCACHED_SUCCESS;
    };
    const auto rc = attempt([&] { return memcached_stat_execute(memc_, args, collect, &out); });
    if (rc != MEMCACHED_SUCCESS) fail(rc, {});
    return out;
  }

 private:
  enum class op { set, add, replace, cas };

  void configure(const memcache_options& options) {
    const auto behave = [this](memcached_behavior_t b, std::uint64_t v, const char* what) {
      if (memcached_behavior_set(memc_, b, v) != MEMCACHED_SUCCESS)
        throw std::runtime_error(std::string("libmemcached refused ") + what + ": " + memcached_last_error_message(memc_));
    };
    const auto ms = static_cast<std::uint64_t>(
        std::min<std::int64_t>(options.timeout.count(), std::numeric_limits<std::int32_t>::max() / 1000));
    behave(MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1, "BINARY_PROTOCOL");  // needed by increment with initial
    behave(MEMCACHED_BEHAVIOR_SUPPORT_CAS, 1, "SUPPORT_CAS");
    behave(MEMCACHED_BEHAVIOR_TCP_NODELAY, 1, "TCP_NODELAY");
    // Classic ketama (MD5 for keys and the continuum): other ketama clients place keys alike.
    behave(MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1, "KETAMA_WEIGHTED");
    behave(MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, ms, "CONNECT_TIMEOUT");
    behave(MEMCACHED_BEHAVIOR_POLL_TIMEOUT, ms, "POLL_TIMEOUT");
    behave(MEMCACHED_BEHAVIOR_SND_TIMEOUT, ms * 1000, "SND_TIMEOUT");  // microseconds
    behave(MEMCACHED_BEHAVIOR_RCV_TIMEOUT, ms * 1000, "RCV_TIMEOUT");
    // Never eject: ejected keys move, and the server's stale copies come back with it.
    behave(MEMCACHED_BEHAVIOR_REMOVE_FAILED_SERVERS, 0, "REMOVE_FAILED_SERVERS");
    // A failed server is skipped until next_retry (whole seconds) has passed: 0 retries it in
    // the next second instead of the default 2-3 s.
    behave(MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, 0, "RETRY_TIMEOUT");
    for (const auto& s : options.servers) {
      const auto addr = detail::parse_memcache_server(s);
      if (memcached_server_add(memc_, addr.host.c_str(), addr.port) != MEMCACHED_SUCCESS)
        throw std::invalid_argument("memcache server '" + s + "': " + memcached_last_error_message(memc_));
    }
  }

  // The prefixed key in a reused buffer; refuses what memcached would.
  const std::string& key_buffer(std::string_view key) {
    check_key(key);
    key_.assign(prefix_).append(key);
    return key_;
  }
  std::string full_key(std::string_view key) const {
    check_key(key);
    std::string k;
    k.reserve(prefix_.size() + key.size());
    return k.append(prefix_).append(key);
  }
  void check_key(std::string_view key) const {
    if (key.empty()) throw std::invalid_argument("memcache key is empty");
    if (prefix_.size() + key.size() > memcache_max_key)
      throw std::invalid_argument("memcache key of " + std::to_string(prefix_.size() + key.size()) +
                                  " bytes (prefix included) is over memcached's 250-byte limit: '" +
                                  std::string(key.substr(0, 40)) + "...'");
  }

  static bool is_counter(std::string_view v) {
    return !v.empty() && v.size() <= 20 && v.find_first_not_of("0123456789") == std::string_view::npos;
  }

  // A connection that broke while idle (server restarted) fails the first request sent on it;
  // connecting again is cheap, so such a failure gets one more try. Refused connections don't.
  template <class Fn>
  memcached_return_t attempt(Fn fn) {
    auto rc = fn();
    if (broken_connection(rc)) rc = fn();
    return rc;
  }
  bool broken_connection(memcached_return_t rc) const {
    switch (rc) {
      case MEMCACHED_CONNECTION_FAILURE:
      case MEMCACHED_WRITE_FAILURE:
      case MEMCACHED_READ_FAILURE:
      case MEMCACHED_UNKNOWN_READ_FAILURE:
      case MEMCACHED_ERRNO:
      case MEMCACHED_SOME_ERRORS: {
        const int e = memcached_last_error_errno(memc_);
        return e != ECONNREFUSED && e != ETIMEDOUT && e != EHOSTUNREACH && e != ENETUNREACH;
      }
      default:
        return false;
    }
  }

  store_result store(op what, std::string_view key, std::string_view value, std::uint32_t flags,
                     std::chrono::seconds expiry, std::uint64_t cas) {
    const auto& k = key_buffer(key);
    const auto exp = detail::memcache_expiration(expiry);
    const auto rc = attempt([&] {
      switch (what) {
        case op::set: return memcached_set(memc_, k.data(), k.size(), value.data(), value.size(), exp, flags);
        case op::add: return memcached_add(memc_, k.data(), k.size(), value.data(), value.size(), exp, flags);
        case op::replace:
          return memcached_replace(memc_, k.data(), k.size(), value.data(), value.size(), exp, flags);
        case op::cas:
          return memcached_cas(memc_, k.data(), k.size(), value.data(), value.size(), exp, flags, cas);
      }
      return MEMCACHED_INVALID_ARGUMENTS;
    });
    switch (rc) {
      case MEMCACHED_SUCCESS:
      case MEMCACHED_STORED:
        return store_result::stored;
      case MEMCACHED_NOTSTORED:  // the text protocol's answer to add and replace
        return store_result::not_stored;
      case MEMCACHED_DATA_EXISTS:  // binary protocol: add on an existing key, or a CAS mismatch
        if (what == op::cas) return store_result::exists;
        if (what == op::add) return store_result::not_stored;
        break;
      case MEMCACHED_NOTFOUND:  // binary protocol: replace or cas on a missing key
        if (what == op::cas) return store_result::not_found;
        if (what == op::replace) return store_result::not_stored;
        break;
      default:
        break;
    }
    fail(rc, k);
  }

  // One mget (getkq to each server, then a noop) and the replies, matched back by key.
  void fetch(const std::vector<std::string>& full, std::vector<std::optional<cache_item>>& out) {
    ptrs_.clear();
    lens_.clear();
    for (const auto& k : full) {
      ptrs_.push_back(k.data());
      lens_.push_back(k.size());
    }
    std::unordered_map<std::string_view, std::size_t> index;  // first position of each key
    if (full.size() > 1) {
      index.reserve(full.size());
      for (std::size_t i = 0; i < full.size(); ++i) index.emplace(full[i], i);
    }
    const auto position = [&](std::string_view key) -> std::optional<std::size_t> {
      if (full.size() == 1) return key == full.front() ? std::optional<std::size_t>(0) : std::nullopt;
      const auto it = index.find(key);
      return it == index.end() ? std::nullopt : std::optional<std::size_t>(it->second);
    };
    memcached_return_t failed = MEMCACHED_SUCCESS;
    std::string failed_server;
    for (int round = 0; round < 2; ++round) {
      failed = MEMCACHED_SUCCESS;
      for (auto& o : out) o.reset();
      const auto rc = memcached_mget(memc_, ptrs_.data(), lens_.data(), ptrs_.size());
      if (rc != MEMCACHED_SUCCESS) {
        failed = rc;
        failed_server = last_error_server();
      }
      // A server that failed during mget is skipped here; the others' replies still arrive.
      memcached_return_t frc = MEMCACHED_SUCCESS;
      while (memcached_fetch_result(memc_, &result_, &frc)) {
        const auto at = position({memcached_result_key_value(&result_), memcached_result_key_length(&result_)});
        if (!at) continue;
        out[*at] = cache_item{std::string(memcached_result_value(&result_), memcached_result_length(&result_)),
                              memcached_result_cas(&result_), memcached_result_flags(&result_)};
      }
      // END after replies, NOTFOUND when every key missed; anything else names a failure.
      if (frc != MEMCACHED_END && frc != MEMCACHED_NOTFOUND && frc != MEMCACHED_SUCCESS) {
        failed = frc;
        failed_server = last_error_server();
      }
      if (failed == MEMCACHED_SUCCESS || round == 1 || !broken_connection(failed)) break;
    }
    if (failed != MEMCACHED_SUCCESS) {
      if (full.size() == 1) failed_server = server_name(full.front());
      fail_named(failed, failed_server);
    }
    if (full.size() > 1) {
      for (std::size_t i = 0; i < full.size(); ++i) {
        const auto first = index.find(full[i])->second;
        if (first != i) out[i] = out[first];  // the same key asked twice
      }
    }
  }

  std::string server_name(const std::string& full) {
    memcached_return_t rc = MEMCACHED_SUCCESS;
    const memcached_instance_st* s = memcached_server_by_key(memc_, full.data(), full.size(), &rc);
    if (!s) return "(no server)";
    return instance_name(s);
  }
  static std::string instance_name(const memcached_instance_st* s) {
    const std::string host = memcached_server_name(s);
    const bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(memcached_server_port(s));
  }
  // The server named by the last error: "... host: 127.0.0.1:11211 -> src/file.cc:12".
  std::string last_error_server() const {
    const std::string_view msg = memcached_last_error_message(memc_);
    const auto at = msg.rfind("host: ");
    if (at == std::string_view::npos) return {};
    auto name = msg.substr(at + 6);
    const auto end = name.find_first_of(" ,");
    return std::string(name.substr(0, end));
  }

  // A single-key request failed on the key's server; others (flush) name the last one.
  [[noreturn]] void fail(memcached_return_t rc, const std::string& full) {
    fail_named(rc, full.empty() ? last_error_server() : server_name(full));
  }
  [[noreturn]] void fail_named(memcached_return_t rc, const std::string& server) {
    std::string text = (server.empty() ? std::string("memcached") : server) + ": " + memcached_strerror(memc_, rc);
    if (rc == MEMCACHED_TIMEOUT) text += " (no answer within " + std::to_string(timeout_.count()) + " ms)";
    if (rc == MEMCACHED_SERVER_TEMPORARILY_DISABLED) text += " (it failed moments ago; retried within a second)";
    if (const int e = memcached_last_error_errno(memc_); e != 0 && detail::memcache_unreachable(rc))
      text += " (" + std::generic_category().message(e) + ")";
    throw data_error(detail::memcache_unreachable(rc) ? data_errc::cache_unavailable : data_errc::cache_error, text);
  }

  memcached_st* memc_ = nullptr;
  memcached_result_st result_{};
  std::string prefix_;
  std::chrono::milliseconds timeout_;
  std::string key_;
  std::vector<std::string> groups_;  // server_groups(), found once
  std::vector<const char*> ptrs_;
  std::vector<std::size_t> lens_;
};

/// A memcached client for coroutines: each operation runs on one of `options.workers` threads
/// (each with its own `memcache_conn`, created on first use) and resumes the caller on its own
/// executor. Every wait inside an operation (connect, send, answer) is bounded by
/// `options.timeout`, so a frozen server fails a request after about that long (a retry on a
/// broken connection, or several failing servers in one multi-get, can add a few more); once
/// started an operation cannot be cancelled, and a caller racing it against a timer waits for
/// it. Errors are those of `memcache_conn`. Destroying it finishes the queued operations.
class memcache {
 public:
  /// Checks the options (server addresses) and starts the workers; connects on first use.
  explicit memcache(memcache_options options)
      : options_(checked(std::move(options))), conns_(options_.workers), pool_(options_.workers, "ember-memcache") {}

  /// The value of `key`, or nullopt on a miss.
  asio::awaitable<std::optional<cache_item>> get(std::string key) {
    return pool_.run([this, key = std::move(key)](std::size_t w) { return conn(w).get(key); });
  }
  /// The values of `keys` in their order (nullopt for misses), one round trip per server.
  asio::awaitable<std::vector<std::optional<cache_item>>> get_multi(std::vector<std::string> keys) {
    return pool_.run([this, keys = std::move(keys)](std::size_t w) { return conn(w).get_multi(keys); });
  }
  /// See memcache_conn::set.
  asio::awaitable<store_result> set(std::string key, std::string value, std::uint32_t flags = 0,
                                    std::chrono::seconds expiry = {}) {
    return pool_.run([this, key = std::move(key), value = std::move(value), flags, expiry](std::size_t w) {
      return conn(w).set(key, value, flags, expiry);
    });
  }
  /// See memcache_conn::add.
  asio::awaitable<store_result> add(std::string key, std::string value, std::uint32_t flags = 0,
                                    std::chrono::seconds expiry = {}) {
    return pool_.run([this, key = std::move(key), value = std::move(value), flags, expiry](std::size_t w) {
      return conn(w).add(key, value, flags, expiry);
    });
  }
  /// See memcache_conn::replace.
  asio::awaitable<store_result> replace(std::string key, std::string value, std::uint32_t flags = 0,
                                        std::chrono::seconds expiry = {}) {
    return pool_.run([this, key = std::move(key), value = std::move(value), flags, expiry](std::size_t w) {
      return conn(w).replace(key, value, flags, expiry);
    });
  }
  /// See memcache_conn::cas.
  asio::awaitable<store_result> cas(std::string key, std::string value, std::uint64_t cas, std::uint32_t flags = 0,
                                    std::chrono::seconds expiry = {}) {
    return pool_.run([this, key = std::move(key), value = std::move(value), cas, flags, expiry](std::size_t w) {
      return conn(w).cas(key, value, cas, flags, expiry);
    });
  }
  /// Deletes `key`; false if it was missing.
  asio::awaitable<bool> remove(std::string key) {
    return pool_.run([this, key = std::move(key)](std::size_t w) { return conn(w).remove(key); });
  }
  /// See memcache_conn::increment.
  asio::awaitable<std::uint64_t> increment(std::string key, std::uint64_t delta, std::uint64_t initial = 0,
                                           std::chrono::seconds expiry = {}) {
    return pool_.run([this, key = std::move(key), delta, initial, expiry](std::size_t w) {
      return conn(w).increment(key, delta, initial, expiry);
    });
  }

  /// Runs `fn(memcache_conn&)` on a worker (several blocking operations in one job) and returns
  /// its result. `fn` must not touch state owned by the io thread.
  template <class Fn>
  auto with_conn(Fn fn) -> asio::awaitable<std::invoke_result_t<Fn&, memcache_conn&>> {
    return pool_.run([this, fn = std::move(fn)](std::size_t w) mutable { return fn(conn(w)); });
  }

  /// Operations waiting for a free worker (not counting those running).
  std::size_t queue_depth() const { return pool_.queue_depth(); }
  /// Worker threads, i.e. operations that can run at once.
  std::size_t workers() const noexcept { return pool_.size(); }
  const memcache_options& options() const noexcept { return options_; }

 private:
  static memcache_options checked(memcache_options o) {
    if (o.servers.empty()) throw std::invalid_argument("memcache_options.servers is empty");
    if (o.workers == 0) throw std::invalid_argument("memcache_options.workers must be at least 1");
    for (const auto& s : o.servers) detail::parse_memcache_server(s);
    return o;
  }
  // Only worker `w` touches conns_[w], so no lock.
  memcache_conn& conn(std::size_t w) {
    auto& c = conns_[w];
    if (!c) c = std::make_unique<memcache_conn>(options_);
    return *c;
  }

  const memcache_options options_;
  std::vector<std::unique_ptr<memcache_conn>> conns_;
  worker_pool pool_;  // declared last: joined before the connections it uses are freed
};

}  // namespace ember::data
