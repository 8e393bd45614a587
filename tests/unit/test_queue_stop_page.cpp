// The stop page pgtqd shares with a worker process (queue/stop_page.hpp): what pgtqd stores
// is what the worker's mapping reads, a queued Run is either started or revoked (never both),
// and the worker cannot truncate it under pgtqd.
#include "queue/stop_page.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>

using namespace pgtq;
using queue::StopPage;

namespace {

StopPage worker_side_of(const StopPage& pgtqd_side) {
  return StopPage::map(plugin::UniqueFd(::fcntl(pgtqd_side.fd(), F_DUPFD_CLOEXEC, 0)));
}

} // namespace

TEST_CASE("a stop raised by pgtqd is what the worker's read-only mapping reads, per Run") {
  StopPage pgtqd_side = StopPage::create();
  const StopPage worker_side = worker_side_of(pgtqd_side);
  CHECK(worker_side.fd() == -1);
  pgtqd_side.open(1);
  pgtqd_side.open(2);
  CHECK_FALSE(worker_side.flag(1).load());
  pgtqd_side.stop(1);
  CHECK(worker_side.flag(1).load());
  CHECK_FALSE(worker_side.flag(2).load()); // the Run queued behind it is not stopped
  // Run 1 + k_lanes uses Run 1's lane: opening it clears the old stop.
  pgtqd_side.open(1 + StopPage::k_lanes);
  CHECK_FALSE(worker_side.flag(1 + StopPage::k_lanes).load());
}

TEST_CASE("a queued Run is started by the worker or revoked by pgtqd, never both") {
  StopPage pgtqd_side = StopPage::create();
  StopPage worker_side = worker_side_of(pgtqd_side);

  SUBCASE("taken first: it cannot be revoked") {
    pgtqd_side.open(5);
    CHECK(worker_side.take(5));
    CHECK_FALSE(pgtqd_side.revoke(5));
  }
  SUBCASE("revoked first: the worker skips it") {
    pgtqd_side.open(5);
    CHECK(pgtqd_side.revoke(5));
    CHECK(pgtqd_side.revoke(5)); // asking again says the same
    CHECK_FALSE(worker_side.take(5));
  }
  SUBCASE("a revoked Run read after its lane was opened for a later Run is skipped") {
    pgtqd_side.open(5);
    CHECK(pgtqd_side.revoke(5));
    pgtqd_side.open(5 + StopPage::k_lanes);
    CHECK_FALSE(worker_side.take(5));
    CHECK(worker_side.take(5 + StopPage::k_lanes));
  }
  SUBCASE("racing: exactly one side wins each Run, and each side wins some") {
    // Each Run is opened, then both sides go for it, each after a random delay: the worker
    // wakes (through a futex: tens of microseconds) and spins 0-20 us; pgtqd revokes at once
    // half the time, and otherwise sleeps 0-300 us first. Sometimes the take comes first,
    // sometimes the revoke. The sides wait for each other without spinning.
    constexpr std::uint32_t k_runs = 1000;
    std::atomic<std::uint32_t> opened{0}; // the last Run opened
    std::atomic<std::uint32_t> tried{0};  // the last Run the worker went for
    int taken = 0;
    auto pause = [](std::mt19937& random) {
      const auto until = std::chrono::steady_clock::now() +
                         std::chrono::microseconds(std::uniform_int_distribution(0, 20)(random));
      while (std::chrono::steady_clock::now() < until) {
      }
    };
    std::thread worker([&] {
      std::mt19937 random(1);
      for (std::uint32_t seq = 1; seq <= k_runs; ++seq) {
        for (std::uint32_t now = opened.load(); now < seq; now = opened.load()) {
          opened.wait(now);
        }
        pause(random);
        taken += worker_side.take(seq) ? 1 : 0;
        tried.store(seq);
        tried.notify_one();
      }
    });
    std::mt19937 random(2);
    int revoked = 0;
    for (std::uint32_t seq = 1; seq <= k_runs; ++seq) {
      pgtqd_side.open(seq);
      opened.store(seq);
      opened.notify_one();
      if (std::uniform_int_distribution(0, 1)(random) == 1) {
        std::this_thread::sleep_for(
            std::chrono::microseconds(std::uniform_int_distribution(0, 300)(random)));
      }
      revoked += pgtqd_side.revoke(seq) ? 1 : 0;
      for (std::uint32_t now = tried.load(); now < seq; now = tried.load()) {
        tried.wait(now);
      }
    }
    worker.join();
    CHECK(taken + revoked == static_cast<int>(k_runs));
    CHECK(taken > 0);
    CHECK(revoked > 0);
  }
}

TEST_CASE("the stop page cannot be shrunk or grown by whoever holds its descriptor") {
  const StopPage page = StopPage::create();
  CHECK(::ftruncate(page.fd(), 0) != 0);
  CHECK(::ftruncate(page.fd(), 1 << 20) != 0);
  CHECK(::fcntl(page.fd(), F_GET_SEALS) != 0);
}
