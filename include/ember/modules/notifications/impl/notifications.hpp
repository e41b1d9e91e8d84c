// ember: bodies of the notifications module (included by
// ember/modules/notifications/notifications.hpp, or compiled once into libember-notifications
// with EMBER_SEPARATE_COMPILATION).
#pragma once

#include "ember/modules/notifications/notifications.hpp"

#include <algorithm>
#include <charconv>
#include <tuple>

#include <sodium.h>

#include "ember/app/module_options.hpp"
#include "ember/codec/json_reader.hpp"
#include "ember/data/error.hpp"
#include "ember/modules/text.hpp"

namespace ember::modules::notifications {

EMBER_DECL options options::read(app::module_options& o) {
  const auto size = [&](std::string_view key, std::size_t fallback, std::uint32_t hi) {
    return static_cast<std::size_t>(o.count(key, static_cast<std::uint32_t>(fallback), 1, hi));
  };
  options out;
  out.max_stored = size("max_stored", out.max_stored, 100'000);
  out.max_subject_chars = size("max_subject_chars", out.max_subject_chars, 10'000);
  out.max_content_bytes = size("max_content_bytes", out.max_content_bytes, 1'000'000);
  out.max_op_chars = size("max_op_chars", out.max_op_chars, 1024);
  out.max_page = o.count("max_page", out.max_page, 1, 10'000);
  out.default_page = o.count("default_page", out.default_page, 1, out.max_page);
  out.max_delete_ids = size("max_delete_ids", out.max_delete_ids, 10'000);
  o.done();
  return out;
}

EMBER_DECL asio::awaitable<en::notification> service::send(std::uint64_t user, outgoing n) {
  if (n.code < first_game_code) en::fail(en::error::reserved_code);
  return deliver(user, std::move(n));
}

EMBER_DECL asio::awaitable<en::notification> service::send_system(std::uint64_t user, en::system_code code,
                                                                  outgoing n) {
  n.code = static_cast<std::int32_t>(code);
  if (n.code <= 0 || n.code >= first_game_code) en::fail(en::error::reserved_code, "not a system code");
  return deliver(user, std::move(n));
}

EMBER_DECL asio::awaitable<page> service::list(std::uint64_t user, std::uint32_t limit,
                                               std::string_view cursor) {
  const auto after = parse_cursor(cursor);
  auto rows = co_await stored(user);
  limit = limit == 0 ? options_.default_page : std::min(limit, options_.max_page);
  page out;
  auto it = after ? std::upper_bound(rows.begin(), rows.end(), *after,
                                     [](const position& p, const en::notifications_item& r) { return p < position_of(r); })
                  : rows.begin();
  for (; it != rows.end() && out.notifications.size() < limit; ++it) out.notifications.push_back(to_notification(*it));
  out.more = it != rows.end();
  out.cursor = out.notifications.empty() ? std::string(cursor) : cursor_of(position_of(rows[static_cast<std::size_t>(it - rows.begin()) - 1]));
  co_return out;
}

EMBER_DECL asio::awaitable<std::uint32_t> service::remove(std::uint64_t user, std::vector<std::int64_t> ids) {
  if (ids.size() > options_.max_delete_ids) en::fail(en::error::too_many_ids);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  if (ids.empty()) co_return 0;
  const auto rows = co_await items_.get_many(ids);
  for (const auto& r : rows)
    if (!r || static_cast<std::uint64_t>(r->user) != user) en::fail(en::error::unknown_notification);
  std::uint32_t deleted = 0;
  for (auto id : ids) deleted += (co_await items_.remove(id)) ? 1 : 0;
  co_return deleted;
}

EMBER_DECL std::string service::cursor_of(position p) {
  return "n." + std::to_string(p.first) + '.' + std::to_string(p.second);
}

EMBER_DECL std::optional<service::position> service::parse_cursor(std::string_view c) {
  if (c.empty()) return std::nullopt;
  position p{};
  const char* end = c.data() + c.size();
  if (!c.starts_with("n.")) en::fail(en::error::bad_cursor);
  auto [dot, e1] = std::from_chars(c.data() + 2, end, p.first);
  if (e1 != std::errc() || dot == end || *dot != '.') en::fail(en::error::bad_cursor);
  auto [last, e2] = std::from_chars(dot + 1, end, p.second);
  if (e2 != std::errc() || last != end) en::fail(en::error::bad_cursor);
  return p;
}

EMBER_DECL en::notification service::to_notification(const en::notifications_item& r) {
  return en::notification(r.id, r.code, r.subject, r.content, static_cast<std::uint64_t>(r.sender), r.created_ms,
                          true);
}

EMBER_DECL asio::awaitable<std::vector<en::notifications_item>> service::stored(std::uint64_t user) {
  auto rows = co_await items_.find<en::notifications_item_table::by_user>(static_cast<std::int64_t>(user));
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return position_of(a) < position_of(b); });
  co_return rows;
}

EMBER_DECL void service::check(std::uint64_t user, outgoing& n) const {
  if (user == 0) en::fail(en::error::bad_user);
  if (check_text(n.subject, options_.max_subject_chars) != text_problem::none) en::fail(en::error::bad_subject);
  if (n.content.empty()) n.content = "{}";
  if (n.content.size() > options_.max_content_bytes || !is_json_object(n.content)) en::fail(en::error::bad_content);
  if (check_text(n.op, options_.max_op_chars, false, true) != text_problem::none)
    en::fail(en::error::op_reused, "the operation id is too long or not text");
}

EMBER_DECL bool service::is_json_object(const std::string& s) {
  simdjson::dom::element doc;
  return !codec::json::thread_parser().parse(s.data(), s.size()).get(doc) && doc.is_object();
}

EMBER_DECL asio::awaitable<en::notification> service::deliver(std::uint64_t user, outgoing n) {
  check(user, n);
  const auto now = static_cast<std::int64_t>(data::unix_ms());
  en::notification sent(0, n.code, n.subject, n.content, n.sender, now, n.persistent);
  bool fresh = true;
  if (n.persistent) std::tie(sent, fresh) = co_await store(user, n, now);
  if (fresh) {
    players_.push(user, en::notified(sent));
    bus_.publish(en::notification_sent(user, sent.id, sent.code, sent.sender));
  }
  co_return sent;
}

EMBER_DECL asio::awaitable<std::pair<en::notification, bool>> service::store(std::uint64_t user, const outgoing& n,
                                                                            std::int64_t now) {
  en::notifications_item row(0, static_cast<std::int64_t>(user), n.code, n.subject, n.content,
                             static_cast<std::int64_t>(n.sender), now, n.op);
  for (int attempt = 0;; ++attempt) {
    row.id = n.op.empty() ? random_id() : op_id(user, n.op);
    bool taken = false;
    try {
      co_await items_.insert(row);
    } catch (const data::data_error& e) {
      if (e.code() != data::data_errc::constraint) throw;
      taken = true;
    }
    if (!taken) break;
    if (!n.op.empty()) {
      auto first = co_await items_.get(row.id);
      if (!first) continue;  // deleted meanwhile: store it again
      if (static_cast<std::uint64_t>(first->user) != user || first->op != n.op) en::fail(en::error::op_reused);
      co_return std::pair{to_notification(*first), false};
    }
    if (attempt > 8) throw data::data_error(data::data_errc::constraint, "notifications: no free id");
  }
  co_await drop_beyond_cap(user);
  co_return std::pair{to_notification(row), true};
}

EMBER_DECL asio::awaitable<void> service::drop_beyond_cap(std::uint64_t user) {
  auto rows = co_await stored(user);
  if (rows.size() <= options_.max_stored) co_return;
  for (std::size_t i = 0; i < rows.size() - options_.max_stored; ++i) co_await items_.remove(rows[i].id);
}

EMBER_DECL std::int64_t service::positive(std::uint64_t v) {
  v &= 0x7fffffffffffffffULL;
  return static_cast<std::int64_t>(v == 0 ? 1 : v);
}

EMBER_DECL std::int64_t service::random_id() {
  std::uint64_t v = 0;
  randombytes_buf(&v, sizeof v);
  return positive(v);
}

EMBER_DECL std::int64_t service::op_id(std::uint64_t user, std::string_view op) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, sizeof(std::uint64_t));
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(&user), sizeof user);
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(op.data()), op.size());
  std::uint64_t v = 0;
  crypto_generichash_final(&st, reinterpret_cast<unsigned char*>(&v), sizeof v);
  return positive(v);
}

EMBER_DECL asio::awaitable<en::list_notifications_reply> handler::list_notifications(
    net::session& s, const en::list_notifications_request& req) {
  auto p = co_await service_.list(user_of(s), req.limit, req.cursor);
  co_return en::list_notifications_reply(std::move(p.notifications), std::move(p.cursor), p.more);
}

EMBER_DECL asio::awaitable<en::delete_notifications_reply> handler::delete_notifications(
    net::session& s, const en::delete_notifications_request& req) {
  co_return en::delete_notifications_reply(co_await service_.remove(user_of(s), req.ids));
}

EMBER_DECL std::uint64_t handler::user_of(const net::session& s) {
  auto u = s.user();
  if (!u || *u == 0) en::fail(en::error::not_signed_in);
  return *u;
}

}  // namespace ember::modules::notifications
