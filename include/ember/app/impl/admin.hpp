// ember: the bodies of the master's link and `use_master` (ember/app/admin.hpp).
#pragma once

#include "ember/app/admin.hpp"

#include <unistd.h>

#include <charconv>
#include <utility>

#include "ember/detail/host_port.hpp"
#include "ember/log.hpp"
#include "ember/spawn.hpp"

namespace ember::app {

EMBER_DECL std::string use_master(cluster_config& config, std::string_view host_port) {
  ember::detail::host_port hp;
  if (const auto e = ember::detail::parse_host_port(host_port, hp, true); e != ember::detail::host_port_error::none)
    return "--master " + std::string(host_port) + ": expected HOST:PORT (the master's rootport): " +
           std::string(ember::detail::describe(e));
  if (!config.master) config.master.emplace();
  config.master->host = std::move(hp.host);
  config.master->rootport = *hp.port;
  return {};
}

EMBER_DECL admin_link::admin_link(host& h, admin_hooks hooks)
    : host_(h), hooks_(std::move(hooks)) {
  const auto& m = h.config().master;
  if (!m || !m->rootport) return;
  cluster::node_options o;
  o.name = h.self().name;
  o.type = h.self().type;
  o.secret = h.config().secret;
  o.root_host = m->host;
  o.root_port = *m->rootport;
  o.root_name = "master";
  o.max_backoff = std::chrono::milliseconds(5'000);
  node_ = std::make_unique<cluster::node_connector>(h.context().get_executor(), o);
  node_->on_connected([this](const cluster::node_connector::link_ptr& l) { serve(l); });
  node_->start();
}

EMBER_DECL std::string admin_link::status_json() const {
  using namespace std::chrono;
  buffer out;
  codec::json_writer w(out);
  auto field = [&](std::string_view k, std::uint64_t v) { w.key(k), w.value_uint(v); };
  w.begin_object();
  w.key("name"), w.value_string(host_.self().name);
  w.key("type"), w.value_string(host_.self().type);
  field("pid", static_cast<std::uint64_t>(::getpid()));
  field("uptime_ms", duration_cast<milliseconds>(steady_clock::now() - started_).count());
  if (auto* c = host_.clients()) {
    const auto& s = c->stats();
    field("sessions", c->session_count());
    field("requests", s.requests);
    field("failed", s.failed);
    field("accepted", s.accepted);
    field("refused", s.refused);
    field("in_flight", c->in_flight());
  }
  if (auto* r = host_.root()) field("children", r->size());
  if (auto* b = host_.backend()) {
    field("remote_sessions", b->session_count());
    field("gateways", b->gateway_count());
  }
  if (auto* o = host_.ownership()) field("players_owned", o->size());
  if (host_.cannot_drain().empty()) {  // a backend, or a net server with others to move to
    w.key("drain"), w.value_string(host_.drain_state());
    field("drained_players", host_.drained_players());
    field("drain_ms", host_.drain_ms());
  }
  if (hooks_.module_version) w.key("module"), w.value_string(hooks_.module_version());
  w.key("log_level"), w.value_string(log::level_name(log::current_level()));
  field("reloads", reloads_);
  field("reload_failures", reload_failures_);
  w.key("commands"), host_.write_command_stats(w);
  if (hooks_.more_status) hooks_.more_status(w);
  w.end_object();
  return std::string(reinterpret_cast<const char*>(out.data()), out.size());
}

EMBER_DECL void admin_link::serve(const cluster::node_connector::link_ptr& l) {
  l->on_internal_request(std::uint16_t(admin_call::status), [this](cluster::link& from, const wire::frame& f) {
    log::debug("admin: the master asks for this server's status");
    const auto body = status_json();
    from.reply_bytes(std::uint16_t(f.command), f.seq, as_bytes(body));
  });
  l->on_internal_request(std::uint16_t(admin_call::reload), [this](cluster::link& from, const wire::frame& f) {
    const auto what = f.body.empty() ? 0 : std::to_integer<int>(f.body[0]);
    const auto& hook = what == 2 ? hooks_.reload_data : hooks_.reload_logic;
    std::string why = hook ? hook() : std::string("this server cannot reload that");
    ++(why.empty() ? reloads_ : reload_failures_);
    buffer body;
    codec::json_writer w(body);
    w.begin_object();
    w.key("ok"), w.value_bool(why.empty());
    w.key("message"), w.value_string(why.empty() ? "reloaded" : why);
    w.end_object();
    from.reply_bytes(std::uint16_t(f.command), f.seq, body.view());
  });
  l->on_notify(std::uint16_t(admin_call::root_back), [this](bytes_view body, codec::encoding) {
    const std::string root(reinterpret_cast<const char*>(body.data()), body.size());
    if (auto* n = host_.node(root); n && !n->connected()) {
      log::info("the master says root '{}' is back: linking now", root);
      n->retry_now();
    }
  });
  l->on_internal_request(std::uint16_t(admin_call::find_player), [this](cluster::link& from, const wire::frame& f) {
    buffer body;
    codec::json_writer w(body);
    w.begin_object();
    std::uint64_t user = 0;
    const std::string_view text(reinterpret_cast<const char*>(f.body.data()), f.body.size());
    if (auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), user);
        ec != std::errc() || end != text.data() + text.size()) {
      w.key("error"), w.value_string("a user id is a decimal number");
    } else {
      auto* c = host_.clients();
      auto s = c ? c->find_user(user) : nullptr;
      w.key("session"), w.value_bool(s != nullptr);
      if (s) {
        w.key("session_id"), w.value_uint(s->id());
        w.key("address"), w.value_string(s->remote_address());
      }
      auto* o = host_.ownership();
      w.key("owns"), w.value_bool(o && o->owns(user));
    }
    w.end_object();
    from.reply_bytes(std::uint16_t(f.command), f.seq, body.view());
  });
  l->on_internal_request(std::uint16_t(admin_call::kick), [this](cluster::link& from, const wire::frame& f) {
    const std::string_view text(reinterpret_cast<const char*>(f.body.data()), f.body.size());
    const auto nl = text.find('\n');
    const auto id = text.substr(0, nl);
    const auto reason = nl == std::string_view::npos ? std::string_view("kicked by an operator") : text.substr(nl + 1);
    std::uint64_t user = 0;
    std::string why;
    if (auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), user);
        ec != std::errc() || end != id.data() + id.size()) {
      why = "a user id is a decimal number";
    } else if (auto* c = host_.clients(); !c) {
      why = "this server has no client sessions";
    } else if (auto s = c->find_user(user); !s || !c->kick(s->id(), status::session_expired, reason)) {
      why = "no session of user " + std::to_string(user) + " here";
    } else {
      log::info("user {} kicked by the master's admin API: {}", user, reason);
    }
    buffer body;
    codec::json_writer w(body);
    w.begin_object();
    w.key("ok"), w.value_bool(why.empty());
    w.key("message"), w.value_string(why.empty() ? "kicked" : why);
    w.end_object();
    from.reply_bytes(std::uint16_t(f.command), f.seq, body.view());
  });
  l->on_internal_request(std::uint16_t(admin_call::set_log_level), [](cluster::link& from, const wire::frame& f) {
    const std::string_view text(reinterpret_cast<const char*>(f.body.data()), f.body.size());
    log::level lv{};
    const bool ok = log::parse_level(text, lv);
    std::string message;
    if (!ok) {
      message = "a log level is \"debug\", \"info\", \"warn\" or \"error\"";
    } else {
      const auto old = log::current_level();
      message = fmt::format("log level {} (was {})", log::level_name(lv), log::level_name(old));
      // Said at info where it shows: before a raise of the threshold, after a lowering.
      if (lv > log::level::info) log::info("the master's admin API sets the {}", message);
      log::set_level(lv);
      if (lv <= log::level::info) log::info("the master's admin API sets the {}", message);
    }
    buffer body;
    codec::json_writer w(body);
    w.begin_object();
    w.key("ok"), w.value_bool(ok);
    w.key("message"), w.value_string(message);
    w.key("level"), w.value_string(log::level_name(log::current_level()));
    w.end_object();
    from.reply_bytes(std::uint16_t(f.command), f.seq, body.view());
  });
  l->on_internal_request(std::uint16_t(admin_call::drain), [this](cluster::link& from, const wire::frame& f) {
    const bool then_stop = !f.body.empty() && (std::to_integer<int>(f.body[0]) & 1) != 0;
    std::string why;
    why = host_.cannot_drain();
    if (why.empty() && then_stop && !hooks_.stop)
      why = "this server cannot stop by itself";
    if (why.empty()) {
      const bool started = host_.drain_state() == "serving";
      stop_when_drained_ = stop_when_drained_ || then_stop;
      log::info("admin: the master asks this server to drain{}", then_stop ? " and stop" : "");
      if (started)
        spawn(host_.context().get_executor(), [](admin_link& self) -> asio::awaitable<void> {
          if (auto e = co_await self.host_.drain(); !e.empty()) log::error("drain: {}", e);
          if (self.stop_when_drained_ && self.hooks_.stop) self.hooks_.stop();
        }(*this), "drain");
      else if (then_stop && host_.drain_state() == "drained")
        hooks_.stop();
    }
    buffer body;
    codec::json_writer w(body);
    w.begin_object();
    w.key("ok"), w.value_bool(why.empty());
    w.key("message"), w.value_string(why.empty() ? (then_stop ? "draining, then stopping" : "draining") : why);
    w.key("state"), w.value_string(host_.drain_state());
    w.end_object();
    from.reply_bytes(std::uint16_t(f.command), f.seq, body.view());
  });
  l->on_internal_request(std::uint16_t(admin_call::ban), [this, weak = std::weak_ptr<cluster::link>(l)](
                                                            cluster::link&, const wire::frame& f) {
    const std::string_view text(reinterpret_cast<const char*>(f.body.data()), f.body.size());
    const auto nl1 = text.find('\n');
    const auto nl2 = nl1 == std::string_view::npos ? nl1 : text.find('\n', nl1 + 1);
    std::int64_t account = 0, until_ms = -1;
    std::string why;
    if (nl2 == std::string_view::npos) {
      why = "a ban is \"ACCOUNT\\nUNTIL_MS\\nREASON\"";
    } else if (auto [end, ec] = std::from_chars(text.data(), text.data() + nl1, account);
               ec != std::errc() || end != text.data() + nl1 || account <= 0) {
      why = "an account id is a positive decimal number";
    } else if (auto [end2, ec2] = std::from_chars(text.data() + nl1 + 1, text.data() + nl2, until_ms);
               ec2 != std::errc() || end2 != text.data() + nl2 || until_ms < 0) {
      why = "the end of a ban is a time in ms since the Unix epoch (0: until unbanned)";
    }
    const bool hosts_accounts = static_cast<bool>(host_.admin_ban());
    if (why.empty() && !hosts_accounts) why = host_.self().name + " hosts no accounts module";
    auto reply = [weak, command = std::uint16_t(f.command), seq = f.seq, hosts_accounts](const std::string& why) {
      auto l = weak.lock();
      if (!l) return;
      buffer body;
      codec::json_writer w(body);
      w.begin_object();
      w.key("ok"), w.value_bool(why.empty());
      w.key("accounts"), w.value_bool(hosts_accounts);
      w.key("message"), w.value_string(why.empty() ? "banned" : why);
      w.end_object();
      l->reply_bytes(command, seq, body.view());
    };
    if (!why.empty()) return reply(why);
    using std::chrono::system_clock;
    const auto latest = std::chrono::duration_cast<std::chrono::milliseconds>(
        system_clock::time_point::max().time_since_epoch()).count();
    const auto until = until_ms == 0 || until_ms >= latest
                           ? system_clock::time_point::max()
                           : system_clock::time_point(std::chrono::milliseconds(until_ms));
    // A copy: the module may clear its hook (a reload) while this ban runs.
    spawn(host_.context().get_executor(),
          [](admin_ban_fn ban, std::int64_t account, std::string reason, system_clock::time_point until,
             decltype(reply) reply) -> asio::awaitable<void> {
            const std::string why = co_await ban(account, reason, until);
            if (why.empty()) log::info("account {} banned by the master's admin API: {}", account, reason);
            reply(why);
          }(host_.admin_ban(), account, std::string(text.substr(nl2 + 1)), until, reply),
          "admin ban");
  });
  l->on_internal_request(std::uint16_t(admin_call::stop), [this](cluster::link& from, const wire::frame& f) {
    from.reply_bytes(std::uint16_t(f.command), f.seq, {});
    if (hooks_.stop) hooks_.stop();
  });
}

}  // namespace ember::app
