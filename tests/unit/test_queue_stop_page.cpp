// The stop page pgtqd shares with a worker process (queue/stop_page.hpp): what pgtqd stores
// is what the worker's mapping reads, and the worker cannot truncate it under pgtqd.
#include "queue/stop_page.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

using namespace pgtq;
using queue::StopPage;

TEST_CASE("a stop raised or cleared by pgtqd is what the worker's read-only mapping reads") {
  StopPage pgtqd_side = StopPage::create();
  const StopPage worker_side =
      StopPage::map(plugin::UniqueFd(::fcntl(pgtqd_side.fd(), F_DUPFD_CLOEXEC, 0)));
  CHECK(worker_side.fd() == -1);
  CHECK_FALSE(worker_side.flag().load());
  pgtqd_side.set(true);
  CHECK(worker_side.flag().load());
  pgtqd_side.set(false);
  CHECK_FALSE(worker_side.flag().load());
}

TEST_CASE("the stop page cannot be shrunk or grown by whoever holds its descriptor") {
  const StopPage page = StopPage::create();
  CHECK(::ftruncate(page.fd(), 0) != 0);
  CHECK(::ftruncate(page.fd(), 1 << 20) != 0);
  CHECK(::fcntl(page.fd(), F_GET_SEALS) != 0);
}
