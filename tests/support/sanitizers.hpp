// Whether this build runs under AddressSanitizer: g++ says so with __SANITIZE_ADDRESS__,
// clang with __has_feature(address_sanitizer). Tests that read a process's memory use it:
// ASan holds freed memory back (its quarantine), so resident sizes say nothing there.
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define EMBER_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EMBER_TEST_ASAN 1
#endif
#endif
#ifndef EMBER_TEST_ASAN
#define EMBER_TEST_ASAN 0
#endif
