// ember: the session handle a handler receives: reply, push, groups, user binding, close.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ember/codec/codec.hpp"
#include "ember/buffer.hpp"

namespace ember::net {

/// Writes a message body into a buffer in the requested encoding; type-erased so that the
/// session interface stays non-template (and narrow across module boundaries).
class body_writer {
 public:
  template <class Message>
  explicit body_writer(const Message& m) noexcept
      : msg_(&m), fn_([](const void* p, buffer& out, codec::encoding e) {
          codec::encode(out, *static_cast<const Message*>(p), e);
        }) {}
  /// A writer of anything: `fn(p, out, encoding)` appends the body.
  using write_fn = void (*)(const void*, buffer&, codec::encoding);
  static body_writer raw(const void* p, write_fn fn) noexcept { return body_writer(p, fn); }
  /// A body already encoded, written as it is whatever the encoding asked. The writer keeps
  /// the span itself (a temporary `bytes_view` may be passed); the bytes it points to must
  /// outlive the writer.
  static body_writer encoded(bytes_view body) noexcept { return body_writer(body); }

  void operator()(buffer& out, codec::encoding e) const {
    if (fn_)
      fn_(msg_, out, e);
    else
      out.append(bytes_view(static_cast<const std::byte*>(msg_), size_));
  }

 private:
  body_writer(const void* p, write_fn fn) noexcept : msg_(p), fn_(fn) {}
  explicit body_writer(bytes_view body) noexcept : msg_(body.data()), size_(body.size()) {}
  const void* msg_;
  std::size_t size_ = 0;  // of the bytes at msg_, for `encoded` (fn_ null)
  write_fn fn_ = nullptr;
};

/// A client session as handlers see it. The same interface serves a session on this process
/// and (in a cluster) one on a client-facing server that forwarded the request.
class session {
 public:
  virtual ~session() = default;

  /// Process-unique id of this session (never reused while the process lives).
  virtual std::uint64_t id() const noexcept = 0;

  /// Sends a push message (a schema `[[push]]`, which carries its `push_id`) to this client.
  template <class Push>
  void push(const Push& p) {
    push_body(Push::push_id, body_writer(p));
  }
  /// Sends a push to every member of `group` (on this server), encoding the body once.
  template <class Push>
  void broadcast(std::string_view group, const Push& p) {
    broadcast_body(group, Push::push_id, body_writer(p));
  }
  /// Sends a push to every session of this server.
  template <class Push>
  void broadcast_all(const Push& p) {
    broadcast_body({}, Push::push_id, body_writer(p));
  }

  /// Joins a named group; joining twice is harmless. A closed session leaves all its groups.
  virtual void join(std::string_view group) = 0;
  virtual void leave(std::string_view group) = 0;
  virtual bool in_group(std::string_view group) const = 0;

  /// Binds this session to a user id (after login); 0 unbinds.
  virtual void bind_user(std::uint64_t user) = 0;
  /// The bound user id, if any.
  virtual std::optional<std::uint64_t> user() const = 0;

  /// Small string attributes that belong to the session (owned by the host, so they survive
  /// a reload of the handler module).
  virtual void set_attribute(std::string_view key, std::string value) = 0;
  virtual std::optional<std::string_view> attribute(std::string_view key) const = 0;

  /// The peer's address as text, for logs.
  virtual std::string remote_address() const = 0;
  /// The encoding this client takes pushes in (chosen in its handshake).
  virtual codec::encoding push_encoding() const noexcept { return codec::encoding::binary; }

  /// Closes the session after the replies already queued are written.
  virtual void close(std::string_view reason) = 0;
  virtual bool is_open() const noexcept = 0;

  /// Type-erased forms of the templates above.
  virtual void push_body(std::uint16_t push_id, const body_writer& body) = 0;
  /// An empty `group` means every session of the server.
  virtual void broadcast_body(std::string_view group, std::uint16_t push_id,
                              const body_writer& body) = 0;

  using time_point = std::chrono::steady_clock::time_point;
  /// The deadline the caller gave the request this session is serving (a link's calls and
  /// forwarded requests carry one, PROTOCOL.md §9), if any: a handler's own calls take their
  /// timeout from it (`net::within_deadline`), so inner calls give up before outer ones. When
  /// requests of the session overlap, it is the earliest of them that has not passed.
  std::optional<time_point> deadline() const noexcept {
    return deadline_ == time_point{} ? std::nullopt : std::optional<time_point>(deadline_);
  }
  /// Notes the deadline of a request that arrives (transports call it).
  void note_deadline(time_point d) noexcept {
    if (deadline_ == time_point{} || d < deadline_ || deadline_ <= std::chrono::steady_clock::now())
      deadline_ = d;
  }

 private:
  time_point deadline_{};
};

}  // namespace ember::net
