// ember: a memcached client on libmemcached 1.1 (binary protocol, consistent hashing). A
// `memcache_conn` is one blocking connection set for one thread; `memcache` owns a worker_pool
// with one `memcache_conn` per worker and offers the same operations as awaitables, so the io
// thread never blocks on memcached.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>

#include "ember/data/error.hpp"
#include "ember/data/worker_pool.hpp"
#include "ember/separate_compilation.hpp"

// libmemcached's handles, declared as <libmemcached/memcached.h> declares them: only the bodies
// (ember/data/impl/memcache.hpp) include it.
struct memcached_st;
struct memcached_result_st;

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
EMBER_DECL const char* to_string(store_result r) noexcept;

/// memcached refuses keys longer than this (prefix included).
inline constexpr std::size_t memcache_max_key = 250;

namespace detail {

struct memcache_server_address {
  std::string host;
  std::uint16_t port = 0;  // in_port_t
};

/// Parses "host:port" or "[v6]:port"; throws std::invalid_argument naming the bad entry and
/// what is wrong with it.
EMBER_DECL memcache_server_address parse_memcache_server(const std::string& text);

}  // namespace detail

/// One libmemcached handle over every server, for one thread at a time (blocking calls; a
/// `memcached_st` is not thread-safe). Inside a `memcache` it lives on one worker; use it
/// directly through `memcache::with_conn`.
///
/// Misses, CAS conflicts and refused adds are return values. A server that is down, refuses
/// connections or does not answer within `timeout` raises `data_error(cache_unavailable)`
/// naming "host:port" — except a store (set, add, replace, cas) that was sent and whose answer
/// was lost (timed out, or the connection broke while waiting): it may have been stored, and
/// raises `data_error(outcome_unknown)`; a refusal by the server (value too large, out of
/// memory under `-M`) raises `data_error(cache_error)`; a key that is empty or over 250 bytes with its prefix
/// raises std::invalid_argument before anything is sent.
///
/// Failed servers are never ejected (keys would move to another server, which would later serve
/// stale values that CAS accepts); a failed server answers with `cache_unavailable` at once
/// until libmemcached retries it, within the next whole second — or sooner: while a server
/// answers "disabled", this connection builds a fresh handle (which tries it at once) at most
/// every 250 ms, so a restarted server is used again within about 250 ms. A request whose
/// established connection turns out broken (the server restarted since) is sent once more on a
/// fresh one.
class memcache_conn {
 public:
  /// Configures the handle; nothing connects until the first request.
  explicit memcache_conn(const memcache_options& options);
  memcache_conn(const memcache_conn&) = delete;
  memcache_conn& operator=(const memcache_conn&) = delete;
  ~memcache_conn();

  /// The value of `key`, or nullopt on a miss.
  std::optional<cache_item> get(std::string_view key);

  /// The values of `keys` in the same order (nullopt for each miss), in one round trip per
  /// server. Throws `cache_unavailable` if any server involved fails: a miss always means the
  /// key is absent, never "unknown".
  std::vector<std::optional<cache_item>> get_multi(std::span<const std::string> keys);

  /// Stores `value` whatever the key holds.
  store_result set(std::string_view key, std::string_view value, std::uint32_t flags = 0,
                   std::chrono::seconds expiry = {});
  /// Stores `value` only if the key is missing (`not_stored` otherwise).
  store_result add(std::string_view key, std::string_view value, std::uint32_t flags = 0,
                   std::chrono::seconds expiry = {});
  /// Stores `value` only if the key exists (`not_stored` otherwise).
  store_result replace(std::string_view key, std::string_view value, std::uint32_t flags = 0,
                       std::chrono::seconds expiry = {});
  /// Stores `value` only if the key still holds the version `cas` read by get(): `exists` if
  /// it changed since, `not_found` if it is gone.
  store_result cas(std::string_view key, std::string_view value, std::uint64_t cas, std::uint32_t flags = 0,
                   std::chrono::seconds expiry = {});

  /// Deletes `key`; false if it was missing.
  bool remove(std::string_view key);

  /// Adds `delta` to the decimal counter at `key` and returns the new value; a missing key is
  /// created holding `initial` (without `delta`), which is returned. A value that is not a
  /// decimal number raises `cache_error`. Like every request it is sent again once on a
  /// connection found broken: only a server that died after applying it could count it twice,
  /// and such a server comes back empty.
  std::uint64_t increment(std::string_view key, std::uint64_t delta, std::uint64_t initial = 0,
                          std::chrono::seconds expiry = {});

  /// Empties every server (for tests and tools).
  void flush();

  /// "host:port" of the server that holds `key`.
  std::string server_of(std::string_view key);

  /// The value of `key` kept on the server that holds `group` (a key of its own there), or
  /// nullopt on a miss. Per-server bookkeeping (the data layer's restart sentinel) uses it.
  std::optional<cache_item> get_on(std::string_view group, std::string_view key);
  /// Stores `value` under `key` on the server that holds `group`, only if it is missing there.
  store_result add_on(std::string_view group, std::string_view key, std::string_view value);

  /// One group key per server, in server order: `get_on(groups[i], ...)` reaches server i.
  const std::vector<std::string>& server_groups();

  /// `stats ARGS` of every server ("" for the general figures, "settings" for its options):
  /// "host:port" -> name -> value.
  std::map<std::string, std::map<std::string, std::string>> stats(const char* args);

 private:
  enum class op { set, add, replace, cas };
  // What names libmemcached's types (its return codes, its server instances), defined with the
  // bodies so that this header does without <libmemcached/memcached.h>.
  struct lib;
  struct result_deleter {
    void operator()(memcached_result_st* r) const noexcept;
  };

  void configure(const memcache_options& options);
  // A fresh handle (no failed-server state), at most every 250 ms: see lib::attempt.
  bool reset_if_due();
  // The prefixed key in a reused buffer; refuses what memcached would.
  const std::string& key_buffer(std::string_view key);
  std::string full_key(std::string_view key) const;
  void check_key(std::string_view key) const;
  static bool is_counter(std::string_view v);
  store_result store(op what, std::string_view key, std::string_view value, std::uint32_t flags,
                     std::chrono::seconds expiry, std::uint64_t cas);
  // One mget (getkq to each server, then a noop) and the replies, matched back by key.
  void fetch(const std::vector<std::string>& full, std::vector<std::optional<cache_item>>& out);
  std::string server_name(const std::string& full);
  // The server named by the last error: "... host: 127.0.0.1:11211 -> src/file.cc:12".
  std::string last_error_server() const;

  memcached_st* memc_ = nullptr;
  std::unique_ptr<memcached_result_st, result_deleter> result_;
  std::string prefix_;
  std::chrono::milliseconds timeout_;
  std::string key_;
  std::vector<std::string> groups_;  // server_groups(), found once
  std::vector<const char*> ptrs_;
  std::vector<std::size_t> lens_;
  memcache_options options_;  // to build the handle anew (reset_if_due)
  std::chrono::steady_clock::time_point reset_at_{};
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
  explicit memcache(memcache_options options);

  /// The value of `key`, or nullopt on a miss.
  asio::awaitable<std::optional<cache_item>> get(std::string key);
  /// The values of `keys` in their order (nullopt for misses), one round trip per server.
  asio::awaitable<std::vector<std::optional<cache_item>>> get_multi(std::vector<std::string> keys);
  /// See memcache_conn::set.
  asio::awaitable<store_result> set(std::string key, std::string value, std::uint32_t flags = 0,
                                    std::chrono::seconds expiry = {});
  /// See memcache_conn::add.
  asio::awaitable<store_result> add(std::string key, std::string value, std::uint32_t flags = 0,
                                    std::chrono::seconds expiry = {});
  /// See memcache_conn::replace.
  asio::awaitable<store_result> replace(std::string key, std::string value, std::uint32_t flags = 0,
                                        std::chrono::seconds expiry = {});
  /// See memcache_conn::cas.
  asio::awaitable<store_result> cas(std::string key, std::string value, std::uint64_t cas, std::uint32_t flags = 0,
                                    std::chrono::seconds expiry = {});
  /// Deletes `key`; false if it was missing.
  asio::awaitable<bool> remove(std::string key);
  /// See memcache_conn::increment.
  asio::awaitable<std::uint64_t> increment(std::string key, std::uint64_t delta, std::uint64_t initial = 0,
                                           std::chrono::seconds expiry = {});

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
  static memcache_options checked(memcache_options o);
  // Only worker `w` touches conns_[w], so no lock.
  memcache_conn& conn(std::size_t w);

  const memcache_options options_;
  std::vector<std::unique_ptr<memcache_conn>> conns_;
  worker_pool pool_;  // declared last: joined before the connections it uses are freed
};

}  // namespace ember::data

#if !defined(EMBER_SEPARATE_COMPILATION)
#include "ember/data/impl/memcache.hpp"
#endif
