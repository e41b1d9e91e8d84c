// ember: bodies of the mail module (included by ember/modules/mail/mail.hpp, or compiled once
// into libember-mail with EMBER_SEPARATE_COMPILATION).
#pragma once

#include "ember/modules/mail/mail.hpp"

#include <algorithm>
#include <charconv>
#include <memory>
#include <optional>
#include <set>
#include <tuple>

#include "ember/app/module_options.hpp"
#include "ember/modules/mail/attachments.hpp"
#include "ember/modules/text.hpp"

namespace ember::modules::mail {

namespace detail {

/// The operation id of the grants of mail `id` to `player`: the same for every attempt.
inline std::string grant_op(std::uint64_t player, std::int64_t id) {
  return id > 0 ? "mail:" + std::to_string(player) + ':' + std::to_string(id)
                : "mail:b" + std::to_string(-id) + ':' + std::to_string(player);
}

inline bool expired(std::int64_t expires_at_ms, std::int64_t now) { return expires_at_ms != 0 && expires_at_ms <= now; }

/// A page cursor: the (sent time, id) of the last mail a page held.
inline std::string cursor_of(const ember_mail::mail& m) {
  return std::to_string(m.sent_at_ms) + ':' + std::to_string(m.id);
}
inline std::optional<std::pair<std::int64_t, std::int64_t>> parse_cursor(std::string_view c) {
  const auto colon = c.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::int64_t at = 0, id = 0;
  const auto a = std::from_chars(c.data(), c.data() + colon, at);
  const auto b = std::from_chars(c.data() + colon + 1, c.data() + c.size(), id);
  if (a.ec != std::errc{} || a.ptr != c.data() + colon || b.ec != std::errc{} || b.ptr != c.data() + c.size())
    return std::nullopt;
  return std::pair{at, id};
}
/// Newest first; ties by id, larger first.
inline bool newer(const ember_mail::mail& a, const ember_mail::mail& b) {
  return std::tie(a.sent_at_ms, a.id) > std::tie(b.sent_at_ms, b.id);
}

}  // namespace detail

EMBER_DECL options options::read(app::module_options& o) {
  const auto size = [&](std::string_view key, std::size_t fallback, std::uint32_t hi) {
    return static_cast<std::size_t>(o.count(key, static_cast<std::uint32_t>(fallback), 1, hi));
  };
  options out;
  out.max_inbox = size("max_inbox", out.max_inbox, 100'000);
  out.max_broadcasts = size("max_broadcasts", out.max_broadcasts, 10'000);
  out.max_subject = size("max_subject", out.max_subject, 10'000);
  out.max_body = size("max_body", out.max_body, 1'000'000);
  out.max_attachments = size("max_attachments", out.max_attachments, 1000);
  out.max_amount = o.integer("max_amount", out.max_amount, 1);
  out.max_count = o.count("max_count", out.max_count, 1);
  out.page = o.count("page", out.page, 1, 10'000);
  out.max_batch = size("max_batch", out.max_batch, 10'000);
  out.max_op_id = size("max_op_id", out.max_op_id, 1024);
  out.max_sends_per_minute = o.count("max_sends_per_minute", out.max_sends_per_minute);
  out.ttl_ms = o.integer("ttl_ms", out.ttl_ms, 0);
  o.done();
  return out;
}

EMBER_DECL asio::awaitable<std::int64_t> service::send_system(
    std::uint64_t to, std::string subject, std::string body, ember_mail::attachments attached,
    std::int64_t ttl_ms) {
  if (to == 0 || to > static_cast<std::uint64_t>(INT64_MAX)) ember_mail::fail(ember_mail::error::bad_recipient);
  validate_text(subject, body);
  validate(attached);
  co_return co_await deliver(to, 0, std::move(subject), std::move(body), std::move(attached), ttl_ms);
}

EMBER_DECL asio::awaitable<std::int64_t> service::send_player(
    std::uint64_t from, std::uint64_t to, std::string subject, std::string body) {
  if (to == 0 || to == from || to > static_cast<std::uint64_t>(INT64_MAX) || from > static_cast<std::uint64_t>(INT64_MAX))
    ember_mail::fail(ember_mail::error::bad_recipient);
  validate_text(subject, body);
  co_return co_await deliver(to, from, std::move(subject), std::move(body), {}, -1);
}

EMBER_DECL asio::awaitable<std::int64_t> service::send_all(
    std::string subject, std::string body, ember_mail::attachments attached, std::int64_t expires_at_ms) {
  validate_text(subject, body);
  validate(attached);
  const auto now = static_cast<std::int64_t>(data::unix_ms());
  if (expires_at_ms == 0) expires_at_ms = options_.ttl_ms > 0 ? now + options_.ttl_ms : 0;
  std::size_t live = 0;
  for (const auto& b : co_await broadcasts_.find<ember_mail::mail_broadcast_table::by_audience>(std::string(detail::everyone)))
    if (!detail::expired(b.expires_at_ms, now)) ++live;
  if (live >= options_.max_broadcasts) ember_mail::fail(ember_mail::error::too_many_broadcasts);
  auto row = co_await broadcasts_.insert(ember_mail::mail_broadcast(0, std::string(detail::everyone), subject, body,
                                                                    detail::encode(attached), now, expires_at_ms));
  const auto id = -row.id;
  bus_.publish(ember_mail::mail_sent(0, id, 0));
  if (hooks_.on_broadcast)
    hooks_.on_broadcast(ember_mail::mail(id, 0, std::move(subject), std::move(body), std::move(attached), now, expires_at_ms));
  co_return id;
}

EMBER_DECL asio::awaitable<std::size_t> service::expire_broadcasts() {
  const auto now = static_cast<std::int64_t>(data::unix_ms());
  std::size_t n = 0;
  for (const auto& b : co_await broadcasts_.find<ember_mail::mail_broadcast_table::by_audience>(std::string(detail::everyone)))
    if (detail::expired(b.expires_at_ms, now) && co_await broadcasts_.remove(b.id)) ++n;
  co_return n;
}

EMBER_DECL asio::awaitable<ember_mail::list_mail_reply> service::list(
    std::uint64_t player, std::string cursor, std::uint32_t limit, bool unread_only) {
  std::optional<std::pair<std::int64_t, std::int64_t>> after;
  if (!cursor.empty() && !(after = detail::parse_cursor(cursor))) ember_mail::fail(ember_mail::error::bad_cursor);
  if (limit == 0 || limit > options_.page) limit = options_.page;
  auto all = co_await mailbox(player);
  ember_mail::list_mail_reply out;
  for (auto& m : all) {
    if (after && std::tie(m.sent_at_ms, m.id) >= std::tie(after->first, after->second)) continue;
    if (unread_only && m.read) continue;
    if (out.mails.size() == limit) {
      out.next_cursor = detail::cursor_of(out.mails.back());
      break;
    }
    out.mails.push_back(std::move(m));
  }
  co_return out;
}

EMBER_DECL asio::awaitable<ember_mail::mail> service::read(std::uint64_t player, std::int64_t id) {
  co_await set_flag(player, id, [](auto& row) { row.read = true; });
  co_return co_await one(player, id);
}

EMBER_DECL asio::awaitable<void> service::keep(std::uint64_t player, std::int64_t id, bool kept) {
  co_await set_flag(player, id, [kept](auto& row) { row.kept = kept; });
}

EMBER_DECL asio::awaitable<ember_mail::claim_result> service::claim(std::uint64_t player, std::int64_t id) {
  ember_mail::claim_result out;
  auto done = std::make_shared<bool>(false);
  const auto op = detail::grant_op(player, id);
  ember_wallet::change_result paid;
  ember_inventory::op_result given;
  try {
    co_await data::transact_retrying(store_, [&](data::change_set& tx) -> asio::awaitable<void> {
      *done = false;
      out = {};
      ember_mail::attachments attached;
      bool claimed = false;
      std::function<void(bool&)> mark;  // sets the flag in the locked row; true if already set
      if (id > 0) {
        const auto key = detail::message_key(player, id);
        auto m = co_await messages_.get(key);
        const auto now = static_cast<std::int64_t>(data::unix_ms());
        if (!m || m->state != detail::live || (!m->kept && detail::expired(m->expires_at_ms, now)))
          ember_mail::fail(ember_mail::error::no_such_mail);
        attached = detail::decode(m->attachments);
        claimed = m->claimed;
        auto row = tx.row(messages_, key);
        mark = [row, op](bool& was) {
          if (row->state != detail::live) ember_mail::fail(ember_mail::error::no_such_mail);
          was = row->claimed;
          row->claimed = true;
          row->claim_op = op;
        };
      } else {
        auto b = co_await live_broadcast(id);
        attached = detail::decode(b.attachments);
        const auto key = detail::state_key(player, -id);
        co_await modules::detail::insert_if_absent(states_, ember_mail::mail_broadcast_state(key, static_cast<std::int64_t>(player), -id));
        auto s = co_await states_.get(key);
        if (!s || s->deleted) ember_mail::fail(ember_mail::error::no_such_mail);
        claimed = s->claimed;
        auto row = tx.row(states_, key);
        mark = [row, op](bool& was) {
          if (row->deleted) ember_mail::fail(ember_mail::error::no_such_mail);
          was = row->claimed;
          row->claimed = true;
          row->claim_op = op;
        };
      }
      if (detail::empty(attached)) ember_mail::fail(ember_mail::error::nothing_to_claim);
      out.attachments = attached;
      if (claimed) co_return;  // claimed before: nothing to stage, `applied` stays false
      // The claim's step first: if another claim got in since the read above, build again
      // (and find it claimed) rather than let the grants' own op checks be the only guard.
      tx.step([mark] {
        bool was = false;
        mark(was);
        if (was) throw data::stale_read();
      });
      if (!attached.currencies.empty())
        co_await wallet_.stage(tx, op, detail::currency_grants(player, attached), "mail", paid);
      if (!attached.items.empty()) co_await inventory_.stage_grant(tx, op, player, detail::item_grants(attached), given);
      tx.step([this, player, id, done] {
        if (hooks_.before_claim_commit) hooks_.before_claim_commit(player, id);
        *done = true;
      });
      tx.on_commit([this, player, id, op, attached, done] {
        if (!*done) return;
        ember_mail::mail_claimed ev(player, id, op, attached);
        bus_.publish(ev);
        if (hooks_.on_claimed) hooks_.on_claimed(ev);
      });
    });
  } catch (const game_error& e) {
    rethrow_as_mail_error(e);
  }
  out.applied = *done;
  co_return out;
}

EMBER_DECL asio::awaitable<std::uint32_t> service::remove(
    std::uint64_t player, std::vector<std::int64_t> ids, bool force) {
  if (ids.size() > options_.max_batch) ember_mail::fail(ember_mail::error::too_many_ids);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  if (ids.empty()) co_return 0;
  std::vector<std::string> own_keys;
  co_await data::transact_retrying(store_, [&](data::change_set& tx) -> asio::awaitable<void> {
    own_keys.clear();
    std::int64_t own = 0;
    for (auto id : ids) {
      if (id > 0) {
        const auto key = detail::message_key(player, id);
        if (!co_await messages_.get(key)) ember_mail::fail(ember_mail::error::no_such_mail);
        auto row = tx.row(messages_, key);
        own_keys.push_back(key);
        ++own;
        tx.step([row, force] {
          if (row->state != detail::live) ember_mail::fail(ember_mail::error::no_such_mail);
          if (!force && !row->claimed && !detail::empty(detail::decode(row->attachments)))
            ember_mail::fail(ember_mail::error::unclaimed_attachments);
          row->state = detail::deleted;
        });
      } else {
        auto b = co_await live_broadcast(id);
        const bool has = !detail::empty(detail::decode(b.attachments));
        const auto key = detail::state_key(player, -id);
        co_await modules::detail::insert_if_absent(states_, ember_mail::mail_broadcast_state(key, static_cast<std::int64_t>(player), -id));
        auto row = tx.row(states_, key);
        tx.step([row, force, has] {
          if (row->deleted) ember_mail::fail(ember_mail::error::no_such_mail);
          if (!force && has && !row->claimed) ember_mail::fail(ember_mail::error::unclaimed_attachments);
          row->deleted = true;
        });
      }
    }
    if (own > 0) {
      auto box = tx.row(boxes_, static_cast<std::int64_t>(player));
      tx.step([box, own] { box->live -= own; });
    }
  });
  for (const auto& k : own_keys) co_await messages_.remove(k);  // deleted rows; a leftover is skipped and removed later
  co_return static_cast<std::uint32_t>(ids.size());
}

EMBER_DECL void service::validate_text(const std::string& subject, const std::string& body) const {
  if (check_text(subject, options_.max_subject) != text_problem::none ||
      check_text(body, options_.max_body, true, true) != text_problem::none)
    ember_mail::fail(ember_mail::error::bad_text);
}

EMBER_DECL void service::validate(const ember_mail::attachments& a) const {
  if (a.currencies.size() + a.items.size() > options_.max_attachments) ember_mail::fail(ember_mail::error::bad_attachment);
  std::set<std::string_view> seen;
  const auto& known = wallet_.config().currencies;
  for (const auto& c : a.currencies) {
    const bool exists = std::any_of(known.begin(), known.end(), [&](const auto& k) { return k.name == c.currency; });
    if (!exists || c.amount <= 0 || c.amount > options_.max_amount || !seen.insert(c.currency).second)
      ember_mail::fail(ember_mail::error::bad_attachment);
  }
  for (const auto& i : a.items)
    if (check_text(i.type, 64) != text_problem::none || i.count == 0 || i.count > options_.max_count)
      ember_mail::fail(ember_mail::error::bad_attachment);
}

EMBER_DECL asio::awaitable<std::int64_t> service::deliver(
    std::uint64_t to, std::uint64_t sender, std::string subject, std::string body,
    ember_mail::attachments attached, std::int64_t ttl_ms) {
  auto seq = std::make_shared<std::int64_t>(0);
  co_await data::transact_retrying(store_, [&](data::change_set& tx) -> asio::awaitable<void> {
    co_await stage_deliver(tx, to, sender, subject, body, attached, ttl_ms, seq);
  });
  co_return *seq;
}

EMBER_DECL asio::awaitable<void> service::stage_system(
    data::change_set& tx, std::uint64_t to, std::string subject, std::string body, ember_mail::attachments attached,
    std::shared_ptr<std::int64_t> id, std::int64_t ttl_ms) {
  if (to == 0 || to > static_cast<std::uint64_t>(INT64_MAX)) ember_mail::fail(ember_mail::error::bad_recipient);
  validate_text(subject, body);
  validate(attached);
  co_await stage_deliver(tx, to, 0, std::move(subject), std::move(body), std::move(attached), ttl_ms, std::move(id));
}

EMBER_DECL asio::awaitable<void> service::stage_deliver(
    data::change_set& tx, std::uint64_t to, std::uint64_t sender, std::string subject, std::string body,
    ember_mail::attachments attached, std::int64_t ttl_ms, std::shared_ptr<std::int64_t> seq) {
  const auto player = static_cast<std::int64_t>(to);
  const auto now = static_cast<std::int64_t>(data::unix_ms());
  const auto ttl = ttl_ms < 0 ? options_.ttl_ms : ttl_ms;
  const std::int64_t expires = ttl > 0 ? now + ttl : 0;
  auto stored = detail::encode(attached);
  co_await modules::detail::insert_if_absent(boxes_, ember_mail::mail_box(player, 1, 0));
  const auto b = co_await boxes_.get(player);
  const auto next = b ? b->next_seq : 1;
  const auto key = detail::message_key(to, next);
  co_await modules::detail::insert_if_absent(messages_, ember_mail::mail_message(key, player, next));  // a placeholder
  auto box = tx.row(boxes_, player);
  auto row = tx.row(messages_, key);
  if (sender != 0 && options_.max_sends_per_minute > 0) {  // the sender's rate, in its own box
    const auto from = static_cast<std::int64_t>(sender);
    co_await modules::detail::insert_if_absent(boxes_, ember_mail::mail_box(from, 1, 0));
    auto sender_box = tx.row(boxes_, from);
    tx.step([this, sender_box, now] {
      if (now - sender_box->send_window_ms >= 60'000) {
        sender_box->send_window_ms = now;
        sender_box->sends = 0;
      }
      if (sender_box->sends >= static_cast<std::int64_t>(options_.max_sends_per_minute))
        ember_mail::fail(ember_mail::error::too_many_sends);
      sender_box->sends += 1;
    });
  }
  tx.step([this, box, row, next, player, sender, subject, body, stored = std::move(stored), now, expires, seq] {
    if (box->next_seq != next || row->state != detail::placeholder) throw data::stale_read();
    if (box->live >= static_cast<std::int64_t>(options_.max_inbox)) ember_mail::fail(ember_mail::error::inbox_full);
    *row = ember_mail::mail_message(row->id, player, next, detail::live, static_cast<std::int64_t>(sender), subject,
                                    body, stored, now, expires);
    box->next_seq = next + 1;
    box->live += 1;
    *seq = next;
  });
  tx.on_commit([this, to, sender, next, subject = std::move(subject), body = std::move(body),
                attached = std::move(attached), now, expires] {
    ember_mail::mail m(next, sender, subject, body, attached, now, expires);
    bus_.publish(ember_mail::mail_sent(to, next, sender));
    players_.push(to, ember_mail::mail_received(m));
    if (hooks_.on_received) hooks_.on_received(to, m);
  });
}

EMBER_DECL asio::awaitable<ember_mail::mail_broadcast> service::live_broadcast(std::int64_t id) {
  auto b = co_await broadcasts_.get(-id);
  if (!b || detail::expired(b->expires_at_ms, static_cast<std::int64_t>(data::unix_ms())))
    ember_mail::fail(ember_mail::error::no_such_mail);
  co_return std::move(*b);
}

EMBER_DECL asio::awaitable<std::vector<ember_mail::mail>> service::mailbox(std::uint64_t player) {
  const auto p = static_cast<std::int64_t>(player);
  const auto now = static_cast<std::int64_t>(data::unix_ms());
  std::vector<ember_mail::mail> out;
  std::vector<std::string> expired_keys, leftovers;
  for (auto& r : co_await messages_.find<ember_mail::mail_message_table::by_player>(p)) {
    if (r.state == detail::deleted) leftovers.push_back(r.id);
    if (r.state != detail::live) continue;
    if (!r.kept && detail::expired(r.expires_at_ms, now)) {
      expired_keys.push_back(r.id);
      continue;
    }
    out.emplace_back(r.seq, static_cast<std::uint64_t>(r.sender), r.subject, r.body, detail::decode(r.attachments),
                     r.sent_at_ms, r.expires_at_ms, r.read, r.kept, r.claimed);
  }
  auto states = co_await states_.find<ember_mail::mail_broadcast_state_table::by_player>(p);
  std::vector<bool> used(states.size(), false);
  for (auto& b : co_await broadcasts_.find<ember_mail::mail_broadcast_table::by_audience>(std::string(detail::everyone))) {
    const auto s = std::find_if(states.begin(), states.end(), [&](const auto& s) { return s.broadcast == b.id; });
    if (s != states.end()) used[static_cast<std::size_t>(s - states.begin())] = true;
    if (detail::expired(b.expires_at_ms, now) || (s != states.end() && s->deleted)) continue;
    ember_mail::mail m(-b.id, 0, b.subject, b.body, detail::decode(b.attachments), b.sent_at_ms, b.expires_at_ms);
    if (s != states.end()) {
      m.read = s->read;
      m.kept = s->kept;
      m.claimed = s->claimed;
    }
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(), detail::newer);
  for (const auto& k : leftovers) co_await messages_.remove(k);
  for (std::size_t i = 0; i < states.size(); ++i)
    if (!used[i]) co_await states_.remove(states[i].id);
  if (!expired_keys.empty()) co_await expire(player, expired_keys);
  co_return out;
}

EMBER_DECL asio::awaitable<void> service::expire(std::uint64_t player, const std::vector<std::string>& keys) {
  const auto now = static_cast<std::int64_t>(data::unix_ms());
  co_await data::transact_retrying(store_, [&](data::change_set& tx) -> asio::awaitable<void> {
    auto box = tx.row(boxes_, static_cast<std::int64_t>(player));
    for (const auto& k : keys) {
      auto row = tx.row(messages_, k);
      tx.step([box, row, now] {
        if (row->state != detail::live || row->kept || !detail::expired(row->expires_at_ms, now)) return;
        row->state = detail::deleted;
        box->live -= 1;
      });
    }
    co_return;
  });
  for (const auto& k : keys) co_await messages_.remove(k);
}

EMBER_DECL asio::awaitable<ember_mail::mail> service::one(std::uint64_t player, std::int64_t id) {
  const auto now = static_cast<std::int64_t>(data::unix_ms());
  if (id > 0) {
    auto r = co_await messages_.get(detail::message_key(player, id));
    if (!r || r->state != detail::live || (!r->kept && detail::expired(r->expires_at_ms, now)))
      ember_mail::fail(ember_mail::error::no_such_mail);
    co_return ember_mail::mail(r->seq, static_cast<std::uint64_t>(r->sender), r->subject, r->body,
                               detail::decode(r->attachments), r->sent_at_ms, r->expires_at_ms, r->read, r->kept, r->claimed);
  }
  auto b = co_await live_broadcast(id);
  auto s = co_await states_.get(detail::state_key(player, -id));
  if (s && s->deleted) ember_mail::fail(ember_mail::error::no_such_mail);
  ember_mail::mail m(id, 0, b.subject, b.body, detail::decode(b.attachments), b.sent_at_ms, b.expires_at_ms);
  if (s) {
    m.read = s->read;
    m.kept = s->kept;
    m.claimed = s->claimed;
  }
  co_return m;
}

EMBER_DECL void service::rethrow_as_mail_error(const game_error& e) {
  const auto c = e.code();
  if (c == static_cast<std::uint16_t>(ember_inventory::error::inventory_full) ||
      c == static_cast<std::uint16_t>(ember_wallet::error::balance_cap))
    ember_mail::fail(ember_mail::error::no_room);
  if (c >= 60400 && c <= 60599) ember_mail::fail(ember_mail::error::bad_attachment);  // the inventory's and wallet's blocks
  throw;
}

EMBER_DECL asio::awaitable<ember_mail::list_mail_reply> handler::list_mail(
    net::session& s, const ember_mail::list_mail_request& r) {
  co_return co_await service_.list(signed_in(s), r.cursor, r.limit, r.unread_only);
}

EMBER_DECL asio::awaitable<ember_mail::read_mail_reply> handler::read_mail(
    net::session& s, const ember_mail::read_mail_request& r) {
  co_return ember_mail::read_mail_reply{co_await service_.read(signed_in(s), r.id)};
}

EMBER_DECL asio::awaitable<ember_mail::claim_mail_reply> handler::claim_mail(
    net::session& s, const ember_mail::claim_mail_request& r) {
  const auto player = signed_in(s);
  if (check_text(r.op, service_.config().max_op_id, false, true) != text_problem::none)
    ember_mail::fail(ember_mail::error::bad_text);
  co_return ember_mail::claim_mail_reply{co_await service_.claim(player, r.id)};
}

EMBER_DECL asio::awaitable<ember_mail::keep_mail_reply> handler::keep_mail(
    net::session& s, const ember_mail::keep_mail_request& r) {
  co_await service_.keep(signed_in(s), r.id, r.keep);
  co_return ember_mail::keep_mail_reply{};
}

EMBER_DECL asio::awaitable<ember_mail::delete_mail_reply> handler::delete_mail(
    net::session& s, const ember_mail::delete_mail_request& r) {
  co_return ember_mail::delete_mail_reply{co_await service_.remove(signed_in(s), r.ids, r.force)};
}

EMBER_DECL asio::awaitable<ember_mail::send_mail_reply> handler::send_mail(
    net::session& s, const ember_mail::send_mail_request& r) {
  co_return ember_mail::send_mail_reply{co_await service_.send_player(signed_in(s), r.to, r.subject, r.body)};
}

EMBER_DECL std::uint64_t handler::signed_in(net::session& s) {
  const auto u = s.user();
  if (!u) ember_mail::fail(ember_mail::error::not_signed_in);
  return *u;
}

}  // namespace ember::modules::mail
