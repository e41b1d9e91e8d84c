// ember: a growable byte buffer that appends without zero-filling and frees all memory on
// release, so an idle session can hold no buffer at all.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <span>
#include <string_view>
#include <utility>

namespace ember {

/// Read-only bytes; the type every decoder takes.
using bytes_view = std::span<const std::byte>;

/// Views the characters of a string as bytes.
inline bytes_view as_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

/// A contiguous, growable byte buffer (malloc/realloc, no value-initialisation).
class buffer {
 public:
  buffer() noexcept = default;
  buffer(const buffer& other) { append(other.data(), other.size()); }
  buffer(buffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)),
        size_(std::exchange(other.size_, 0)),
        capacity_(std::exchange(other.capacity_, 0)) {}
  buffer& operator=(buffer other) noexcept {
    swap(other);
    return *this;
  }
  ~buffer() { std::free(data_); }

  void swap(buffer& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    std::swap(capacity_, other.capacity_);
  }

  std::byte* data() noexcept { return data_; }
  const std::byte* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return capacity_; }
  bool empty() const noexcept { return size_ == 0; }
  bytes_view view() const noexcept { return {data_, size_}; }
  std::string_view str() const noexcept {
    return {reinterpret_cast<const char*>(data_), size_};
  }
  std::byte& operator[](std::size_t i) noexcept { return data_[i]; }
  const std::byte& operator[](std::size_t i) const noexcept { return data_[i]; }

  /// Makes room for `n` more bytes and returns where they go; `commit` makes them count.
  std::byte* prepare(std::size_t n) {
    if (capacity_ - size_ < n) grow(n);
    return data_ + size_;
  }
  void commit(std::size_t n) noexcept { size_ += n; }

  void append(const void* p, std::size_t n) {
    if (n == 0) return;
    std::memcpy(prepare(n), p, n);
    size_ += n;
  }
  void append(bytes_view b) { append(b.data(), b.size()); }
  void append(std::string_view s) { append(s.data(), s.size()); }
  void push_back(std::byte b) {
    *prepare(1) = b;
    ++size_;
  }

  /// Drops the first `n` bytes, keeping the rest.
  void consume(std::size_t n) noexcept {
    if (n >= size_) {
      size_ = 0;
      return;
    }
    std::memmove(data_, data_ + n, size_ - n);
    size_ -= n;
  }
  void resize(std::size_t n) {
    if (n > capacity_) grow(n - size_);
    size_ = n;
  }
  void clear() noexcept { size_ = 0; }
  /// Frees the memory; the buffer is empty and holds nothing.
  void release() noexcept {
    std::free(std::exchange(data_, nullptr));
    size_ = capacity_ = 0;
  }

 private:
  void grow(std::size_t extra) {
    std::size_t want = size_ + extra;
    std::size_t cap = capacity_ ? capacity_ * 2 : 64;
    while (cap < want) cap *= 2;
    void* p = std::realloc(data_, cap);
    if (!p) throw std::bad_alloc();
    data_ = static_cast<std::byte*>(p);
    capacity_ = cap;
  }

  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace ember
