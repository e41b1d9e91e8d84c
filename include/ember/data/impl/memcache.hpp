// ember: bodies of the memcached client (ember/data/memcache.hpp); <libmemcached/memcached.h> is
// included here only.
#pragma once

#include "ember/data/memcache.hpp"

#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <limits>
#include <stdexcept>
#include <system_error>
#include <unordered_map>

#include <netinet/in.h>

#include <libmemcached/memcached.h>

#include "ember/detail/host_port.hpp"

namespace ember::data {

EMBER_DECL const char* to_string(store_result r) noexcept {
  switch (r) {
    case store_result::stored: return "stored";
    case store_result::not_stored: return "not_stored";
    case store_result::exists: return "exists";
    case store_result::not_found: return "not_found";
  }
  return "?";
}

namespace detail {

EMBER_DECL memcache_server_address parse_memcache_server(const std::string& text) {
  ember::detail::host_port hp;
  if (const auto e = ember::detail::parse_host_port(text, hp, true); e != ember::detail::host_port_error::none)
    throw std::invalid_argument("memcache server '" + text + "' is not host:port: " +
                                std::string(ember::detail::describe(e)));
  return {std::move(hp.host), *hp.port};
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

/// Failures of a request that was sent but whose answer never came (a server frozen past the
/// timeout, a connection broken while waiting): a write may have been applied all the same.
inline bool memcache_answer_lost(memcached_return_t rc) noexcept {
  return rc == MEMCACHED_TIMEOUT || rc == MEMCACHED_READ_FAILURE || rc == MEMCACHED_UNKNOWN_READ_FAILURE;
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

// ---------------------------------------------------------------------------------------------
// memcache_conn

struct memcache_conn::lib {
  // A connection that broke while idle (server restarted) fails the first request sent on it;
  // connecting again is cheap, so such a failure gets one more try. Refused connections don't.
  template <class Fn>
  static memcached_return_t attempt(memcache_conn& c, Fn fn) {
    auto rc = fn();
    if (broken_connection(c, rc) || (rc == MEMCACHED_SERVER_TEMPORARILY_DISABLED && c.reset_if_due())) rc = fn();
    return rc;
  }
  static bool broken_connection(const memcache_conn& c, memcached_return_t rc) {
    switch (rc) {
      case MEMCACHED_CONNECTION_FAILURE:
      case MEMCACHED_WRITE_FAILURE:
      case MEMCACHED_READ_FAILURE:
      case MEMCACHED_UNKNOWN_READ_FAILURE:
      case MEMCACHED_ERRNO:
      case MEMCACHED_SOME_ERRORS: {
        const int e = memcached_last_error_errno(c.memc_);
        return e != ECONNREFUSED && e != ETIMEDOUT && e != EHOSTUNREACH && e != ENETUNREACH;
      }
      default:
        return false;
    }
  }

  static std::string instance_name(const memcached_instance_st* s) {
    const std::string host = memcached_server_name(s);
    const bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(memcached_server_port(s));
  }

  // A single-key request failed on the key's server; others (flush) name the last one.
  [[noreturn]] static void fail(memcache_conn& c, memcached_return_t rc, const std::string& full, bool write = false) {
    fail_named(c, rc, full.empty() ? c.last_error_server() : c.server_name(full), write);
  }
  [[noreturn]] static void fail_named(const memcache_conn& c, memcached_return_t rc, const std::string& server,
                                      bool write = false) {
    std::string text = (server.empty() ? std::string("memcached") : server) + ": " + memcached_strerror(c.memc_, rc);
    if (rc == MEMCACHED_TIMEOUT) text += " (no answer within " + std::to_string(c.timeout_.count()) + " ms)";
    if (rc == MEMCACHED_SERVER_TEMPORARILY_DISABLED) text += " (it failed moments ago; retried within a second)";
    if (const int e = memcached_last_error_errno(c.memc_); e != 0 && detail::memcache_unreachable(rc))
      text += " (" + std::generic_category().message(e) + ")";
    if (write && detail::memcache_answer_lost(rc))
      throw data_error(data_errc::outcome_unknown, text + "; the write may have been stored");
    throw data_error(detail::memcache_unreachable(rc) ? data_errc::cache_unavailable : data_errc::cache_error, text);
  }
};

EMBER_DECL void memcache_conn::result_deleter::operator()(memcached_result_st* r) const noexcept {
  memcached_result_free(r);
  delete r;
}

EMBER_DECL memcache_conn::memcache_conn(const memcache_options& options)
    : prefix_(options.key_prefix), timeout_(options.timeout), options_(options) {
  if (options.servers.empty()) throw std::invalid_argument("memcache_options.servers is empty");
  if (options.timeout.count() <= 0) throw std::invalid_argument("memcache_options.timeout must be positive");
  if (prefix_.size() >= memcache_max_key) throw std::invalid_argument("memcache key_prefix is too long");
  memc_ = memcached_create(nullptr);
  if (!memc_) throw std::bad_alloc();
  memcached_result_st* result = nullptr;
  try {
    configure(options);
    result = new memcached_result_st{};
  } catch (...) {
    memcached_free(memc_);
    throw;
  }
  // Caller-owned result: memcached_fetch_result frees a heap-allocated one when it ends.
  memcached_result_create(memc_, result);
  result_.reset(result);
}

EMBER_DECL bool memcache_conn::reset_if_due() {
  const auto now = std::chrono::steady_clock::now();
  if (now - reset_at_ < std::chrono::milliseconds(250)) return false;
  reset_at_ = now;
  memcached_st* fresh = memcached_create(nullptr);
  if (!fresh) return false;
  std::swap(fresh, memc_);
  try {
    configure(options_);
  } catch (...) {
    std::swap(fresh, memc_);
    memcached_free(fresh);
    return false;
  }
  // The result belongs to the handle it was created with.
  auto* result = new memcached_result_st{};
  result_.reset();
  memcached_free(fresh);
  memcached_result_create(memc_, result);
  result_.reset(result);
  return true;  // groups_ stay: the same servers in the same order
}

EMBER_DECL memcache_conn::~memcache_conn() {
  result_.reset();
  memcached_free(memc_);
}

EMBER_DECL std::optional<cache_item> memcache_conn::get(std::string_view key) {
  std::vector<std::optional<cache_item>> out(1);
  std::vector<std::string> full{full_key(key)};
  fetch(full, out);
  return std::move(out.front());
}

EMBER_DECL std::vector<std::optional<cache_item>> memcache_conn::get_multi(std::span<const std::string> keys) {
  std::vector<std::optional<cache_item>> out(keys.size());
  if (keys.empty()) return out;
  std::vector<std::string> full;
  full.reserve(keys.size());
  for (const auto& k : keys) full.push_back(full_key(k));
  fetch(full, out);
  return out;
}

EMBER_DECL store_result memcache_conn::set(std::string_view key, std::string_view value, std::uint32_t flags,
                                           std::chrono::seconds expiry) {
  return store(op::set, key, value, flags, expiry, 0);
}

EMBER_DECL store_result memcache_conn::add(std::string_view key, std::string_view value, std::uint32_t flags,
                                           std::chrono::seconds expiry) {
  return store(op::add, key, value, flags, expiry, 0);
}

EMBER_DECL store_result memcache_conn::replace(std::string_view key, std::string_view value, std::uint32_t flags,
                                               std::chrono::seconds expiry) {
  return store(op::replace, key, value, flags, expiry, 0);
}

EMBER_DECL store_result memcache_conn::cas(std::string_view key, std::string_view value, std::uint64_t cas,
                                           std::uint32_t flags, std::chrono::seconds expiry) {
  return store(op::cas, key, value, flags, expiry, cas);
}

EMBER_DECL bool memcache_conn::remove(std::string_view key) {
  const auto& k = key_buffer(key);
  const auto rc = lib::attempt(*this, [&] { return memcached_delete(memc_, k.data(), k.size(), 0); });
  if (rc == MEMCACHED_SUCCESS || rc == MEMCACHED_DELETED) return true;
  if (rc == MEMCACHED_NOTFOUND) return false;
  lib::fail(*this, rc, k);
}

EMBER_DECL std::uint64_t memcache_conn::increment(std::string_view key, std::uint64_t delta, std::uint64_t initial,
                                                  std::chrono::seconds expiry) {
  const auto& k = key_buffer(key);
  const auto exp = detail::memcache_expiration(expiry);
  std::uint64_t value = 0;
  const auto rc = lib::attempt(*this, [&] {
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
    lib::fail(*this, rc, full);
  }
  lib::fail(*this, rc, k);
}

EMBER_DECL void memcache_conn::flush() {
  const auto rc = memcached_flush(memc_, 0);
  if (rc != MEMCACHED_SUCCESS) lib::fail(*this, rc, {});
}

EMBER_DECL std::string memcache_conn::server_of(std::string_view key) { return server_name(key_buffer(key)); }

EMBER_DECL std::optional<cache_item> memcache_conn::get_on(std::string_view group, std::string_view key) {
  const auto g = full_key(group);
  const auto& k = key_buffer(key);
  std::size_t length = 0;
  std::uint32_t flags = 0;
  memcached_return_t rc = MEMCACHED_SUCCESS;
  char* value = nullptr;
  rc = lib::attempt(*this, [&] {
    value = memcached_get_by_key(memc_, g.data(), g.size(), k.data(), k.size(), &length, &flags, &rc);
    return rc;
  });
  if (rc == MEMCACHED_NOTFOUND) return std::nullopt;
  if (rc != MEMCACHED_SUCCESS) {
    std::free(value);
    lib::fail(*this, rc, g);
  }
  cache_item item{std::string(value ? value : "", length), 0, flags};
  std::free(value);
  return item;
}

EMBER_DECL store_result memcache_conn::add_on(std::string_view group, std::string_view key, std::string_view value) {
  const auto g = full_key(group);
  const auto& k = key_buffer(key);
  const auto rc = lib::attempt(*this, [&] {
    return memcached_add_by_key(memc_, g.data(), g.size(), k.data(), k.size(), value.data(), value.size(), 0, 0);
  });
  if (rc == MEMCACHED_SUCCESS || rc == MEMCACHED_STORED) return store_result::stored;
  if (rc == MEMCACHED_NOTSTORED || rc == MEMCACHED_DATA_EXISTS) return store_result::not_stored;
  lib::fail(*this, rc, g);
}

EMBER_DECL const std::vector<std::string>& memcache_conn::server_groups() {
  if (groups_.empty()) {
    const auto n = memcached_server_count(memc_);
    std::vector<std::string> by_server(n);
    std::size_t found = 0;
    // Ketama spreads these evenly: a few tries per server find one that lands there.
    for (std::size_t i = 0; found < n && i < 64 * n + 64; ++i) {
      const std::string group = "ember:server:" + std::to_string(i);
      const auto name = server_name(prefix_ + group);
      for (std::size_t s = 0; s < n; ++s) {
        if (by_server[s].empty() && lib::instance_name(memcached_server_instance_by_position(memc_, s)) == name) {
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

EMBER_DECL std::map<std::string, std::map<std::string, std::string>> memcache_conn::stats(const char* args) {
  std::map<std::string, std::map<std::string, std::string>> out;
  const auto collect = [](const memcached_instance_st* server, const char* key, size_t key_length,
                          const char* value, size_t value_length, void* context) -> memcached_return_t {
    auto& all = *static_cast<std::map<std::string, std::map<std::string, std::string>>*>(context);
    all[lib::instance_name(server)][std::string(key, key_length)] = std::string(value, value_length);
    return MEMCACHED_SUCCESS;
  };
  const auto rc = lib::attempt(*this, [&] { return memcached_stat_execute(memc_, args, collect, &out); });
  if (rc != MEMCACHED_SUCCESS) lib::fail(*this, rc, {});
  return out;
}

EMBER_DECL void memcache_conn::configure(const memcache_options& options) {
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

EMBER_DECL const std::string& memcache_conn::key_buffer(std::string_view key) {
  check_key(key);
  key_.assign(prefix_).append(key);
  return key_;
}

EMBER_DECL std::string memcache_conn::full_key(std::string_view key) const {
  check_key(key);
  std::string k;
  k.reserve(prefix_.size() + key.size());
  return k.append(prefix_).append(key);
}

EMBER_DECL void memcache_conn::check_key(std::string_view key) const {
  if (key.empty()) throw std::invalid_argument("memcache key is empty");
  if (prefix_.size() + key.size() > memcache_max_key)
    throw std::invalid_argument("memcache key of " + std::to_string(prefix_.size() + key.size()) +
                                " bytes (prefix included) is over memcached's 250-byte limit: '" +
                                std::string(key.substr(0, 40)) + "...'");
}

EMBER_DECL bool memcache_conn::is_counter(std::string_view v) {
  return !v.empty() && v.size() <= 20 && v.find_first_not_of("0123456789") == std::string_view::npos;
}

EMBER_DECL store_result memcache_conn::store(op what, std::string_view key, std::string_view value,
                                             std::uint32_t flags, std::chrono::seconds expiry, std::uint64_t cas) {
  const auto& k = key_buffer(key);
  const auto exp = detail::memcache_expiration(expiry);
  const auto rc = lib::attempt(*this, [&] {
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
  lib::fail(*this, rc, k, true);
}

EMBER_DECL void memcache_conn::fetch(const std::vector<std::string>& full,
                                     std::vector<std::optional<cache_item>>& out) {
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
    memcached_result_st* const result = result_.get();  // a reset (below) replaces it
    failed = MEMCACHED_SUCCESS;
    for (auto& o : out) o.reset();
    const auto rc = memcached_mget(memc_, ptrs_.data(), lens_.data(), ptrs_.size());
    if (rc != MEMCACHED_SUCCESS) {
      failed = rc;
      failed_server = last_error_server();
    }
    // A server that failed during mget is skipped here; the others' replies still arrive.
    memcached_return_t frc = MEMCACHED_SUCCESS;
    while (memcached_fetch_result(memc_, result, &frc)) {
      const auto at = position({memcached_result_key_value(result), memcached_result_key_length(result)});
      if (!at) continue;
      out[*at] = cache_item{std::string(memcached_result_value(result), memcached_result_length(result)),
                            memcached_result_cas(result), memcached_result_flags(result)};
    }
    // END after replies, NOTFOUND when every key missed; anything else names a failure.
    if (frc != MEMCACHED_END && frc != MEMCACHED_NOTFOUND && frc != MEMCACHED_SUCCESS) {
      failed = frc;
      failed_server = last_error_server();
    }
    if (failed == MEMCACHED_SUCCESS || round == 1) break;
    if (!lib::broken_connection(*this, failed) && !(failed == MEMCACHED_SERVER_TEMPORARILY_DISABLED && reset_if_due()))
      break;
  }
  if (failed != MEMCACHED_SUCCESS) {
    if (full.size() == 1) failed_server = server_name(full.front());
    lib::fail_named(*this, failed, failed_server);
  }
  if (full.size() > 1) {
    for (std::size_t i = 0; i < full.size(); ++i) {
      const auto first = index.find(full[i])->second;
      if (first != i) out[i] = out[first];  // the same key asked twice
    }
  }
}

EMBER_DECL std::string memcache_conn::server_name(const std::string& full) {
  memcached_return_t rc = MEMCACHED_SUCCESS;
  const memcached_instance_st* s = memcached_server_by_key(memc_, full.data(), full.size(), &rc);
  if (!s) return "(no server)";
  return lib::instance_name(s);
}

EMBER_DECL std::string memcache_conn::last_error_server() const {
  const std::string_view msg = memcached_last_error_message(memc_);
  const auto at = msg.rfind("host: ");
  if (at == std::string_view::npos) return {};
  auto name = msg.substr(at + 6);
  const auto end = name.find_first_of(" ,");
  return std::string(name.substr(0, end));
}

// ---------------------------------------------------------------------------------------------
// memcache

EMBER_DECL memcache::memcache(memcache_options options)
    : options_(checked(std::move(options))), conns_(options_.workers), pool_(options_.workers, "ember-memcache") {}

EMBER_DECL asio::awaitable<std::optional<cache_item>> memcache::get(std::string key) {
  return pool_.run([this, key = std::move(key)](std::size_t w) { return conn(w).get(key); });
}

EMBER_DECL asio::awaitable<std::vector<std::optional<cache_item>>> memcache::get_multi(std::vector<std::string> keys) {
  return pool_.run([this, keys = std::move(keys)](std::size_t w) { return conn(w).get_multi(keys); });
}

EMBER_DECL asio::awaitable<store_result> memcache::set(std::string key, std::string value, std::uint32_t flags,
                                                       std::chrono::seconds expiry) {
  return pool_.run([this, key = std::move(key), value = std::move(value), flags, expiry](std::size_t w) {
    return conn(w).set(key, value, flags, expiry);
  });
}

EMBER_DECL asio::awaitable<store_result> memcache::add(std::string key, std::string value, std::uint32_t flags,
                                                       std::chrono::seconds expiry) {
  return pool_.run([this, key = std::move(key), value = std::move(value), flags, expiry](std::size_t w) {
    return conn(w).add(key, value, flags, expiry);
  });
}

EMBER_DECL asio::awaitable<store_result> memcache::replace(std::string key, std::string value, std::uint32_t flags,
                                                           std::chrono::seconds expiry) {
  return pool_.run([this, key = std::move(key), value = std::move(value), flags, expiry](std::size_t w) {
    return conn(w).replace(key, value, flags, expiry);
  });
}

EMBER_DECL asio::awaitable<store_result> memcache::cas(std::string key, std::string value, std::uint64_t cas,
                                                       std::uint32_t flags, std::chrono::seconds expiry) {
  return pool_.run([this, key = std::move(key), value = std::move(value), cas, flags, expiry](std::size_t w) {
    return conn(w).cas(key, value, cas, flags, expiry);
  });
}

EMBER_DECL asio::awaitable<bool> memcache::remove(std::string key) {
  return pool_.run([this, key = std::move(key)](std::size_t w) { return conn(w).remove(key); });
}

EMBER_DECL asio::awaitable<std::uint64_t> memcache::increment(std::string key, std::uint64_t delta,
                                                              std::uint64_t initial, std::chrono::seconds expiry) {
  return pool_.run([this, key = std::move(key), delta, initial, expiry](std::size_t w) {
    return conn(w).increment(key, delta, initial, expiry);
  });
}

EMBER_DECL memcache_options memcache::checked(memcache_options o) {
  if (o.servers.empty()) throw std::invalid_argument("memcache_options.servers is empty");
  if (o.workers == 0) throw std::invalid_argument("memcache_options.workers must be at least 1");
  for (const auto& s : o.servers) detail::parse_memcache_server(s);
  return o;
}

EMBER_DECL memcache_conn& memcache::conn(std::size_t w) {
  auto& c = conns_[w];
  if (!c) c = std::make_unique<memcache_conn>(options_);
  return *c;
}

}  // namespace ember::data
