// ember: one HTTP/1.1 request, parsed by Debian's libhttp-parser. Whatever in ember speaks HTTP
// (ember-master's admin API, a WebSocket upgrade, metrics and health endpoints) reads requests
// through this, so limits and errors are the same everywhere.
#pragma once

#include <http_parser.h>
#include <strings.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ember::detail {

/// One parsed HTTP request. Header names are lower-cased; values are as sent.
struct http_request {
  std::string method, path, query, body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool upgrade = false;  ///< the request asks to switch protocols (e.g. to WebSocket)

  /// The value of header `name` (lower case), or "" if absent.
  std::string_view header(std::string_view name) const noexcept {
    for (const auto& [k, v] : headers)
      if (k == name) return v;
    return {};
  }
};

/// Parses one request from `text`: false if it is incomplete (read more), true when done —
/// with `error` set if the request is malformed. A request asking for an upgrade is complete at
/// the end of its headers; what follows belongs to the new protocol.
inline bool parse_http(std::string_view text, http_request& out, std::string& error) {
  struct ctx {
    http_request* req;
    std::string url;
    bool complete = false, in_value = false;
  } c{&out, {}};
  http_parser_settings s{};
  s.on_url = [](http_parser* p, const char* at, size_t n) {
    static_cast<ctx*>(p->data)->url.append(at, n);
    return 0;
  };
  s.on_header_field = [](http_parser* p, const char* at, size_t n) {
    auto* x = static_cast<ctx*>(p->data);
    if (x->in_value || x->req->headers.empty()) x->req->headers.emplace_back();
    x->in_value = false;
    for (std::size_t i = 0; i < n; ++i)
      x->req->headers.back().first += static_cast<char>(at[i] >= 'A' && at[i] <= 'Z' ? at[i] + 32 : at[i]);
    return 0;
  };
  s.on_header_value = [](http_parser* p, const char* at, size_t n) {
    auto* x = static_cast<ctx*>(p->data);
    x->in_value = true;
    x->req->headers.back().second.append(at, n);
    return 0;
  };
  s.on_body = [](http_parser* p, const char* at, size_t n) {
    static_cast<ctx*>(p->data)->req->body.append(at, n);
    return 0;
  };
  s.on_headers_complete = [](http_parser* p) {
    // An upgrade has no body of HTTP's: stop at the end of the headers.
    if (p->upgrade) static_cast<ctx*>(p->data)->complete = true;
    return 0;
  };
  s.on_message_complete = [](http_parser* p) {
    static_cast<ctx*>(p->data)->complete = true;
    return 0;
  };
  http_parser parser;
  http_parser_init(&parser, HTTP_REQUEST);
  parser.data = &c;
  const auto used = http_parser_execute(&parser, &s, text.data(), text.size());
  if (HTTP_PARSER_ERRNO(&parser) != HPE_OK || (used != text.size() && !parser.upgrade)) {
    error = http_errno_description(HTTP_PARSER_ERRNO(&parser));
    if (error.empty() || HTTP_PARSER_ERRNO(&parser) == HPE_OK) error = "malformed request";
    return true;
  }
  if (!c.complete) return false;
  out.upgrade = parser.upgrade != 0;
  out.method = http_method_str(static_cast<http_method>(parser.method));
  const auto q = c.url.find('?');
  out.path = c.url.substr(0, q);
  out.query = q == std::string::npos ? "" : c.url.substr(q + 1);
  return true;
}

/// The value of `key` in a query string ("" if absent).
inline std::string query_value(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == key) return std::string(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

/// The reason phrase of the statuses ember answers with.
inline std::string_view http_reason(int status) noexcept {
  switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 426: return "Upgrade Required";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

/// A whole response that closes the connection after it.
inline std::string http_response(int status, std::string_view content_type, std::string_view body) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(http_reason(status));
  out += "\r\nContent-Type: ";
  out += content_type;
  out += "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  out += body;
  return out;
}

}  // namespace ember::detail
