// Helpers of the worker programs that module tests kill with SIGKILL mid-operation
// (tests/modules/*_worker.cpp): a worker says where it stopped, then waits for the signal.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <thread>

#include "ember/modules/players.hpp"

namespace ember::test {

/// Players nobody is connected as: a worker's pushes go nowhere.
struct no_players final : ember::modules::players {
  void push_body(std::uint64_t, std::uint16_t, const ember::net::body_writer&) override {}
};

/// Prints `said` (the line the test waits for) and blocks until the test kills the process.
[[noreturn]] inline void wait_to_be_killed(const char* said) {
  std::printf("%s\n", said);
  std::fflush(stdout);
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}

}  // namespace ember::test
