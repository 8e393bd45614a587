// queue/shared_workers: the workers several queues of one pgtqd share, split by weight while
// several have work, every worker used while any has work, never more held than there are.
#include "queue/shared_workers.hpp"

#include <doctest/doctest.h>

#include <random>
#include <vector>

using pgtq::queue::SharedWorkers;

TEST_CASE("a queue alone takes every shared worker, and gives way to its share once another "
          "has work") {
  SharedWorkers workers(8, {3, 1});
  int wakes_of_b = 0;
  workers.set_waker(1, [&] { ++wakes_of_b; });
  // Until b says it has no work, it may have a backlog: a takes its share, not more.
  CHECK(workers.room(0, 0, 8) == 6);
  workers.update(1, 0, false);
  // a alone: all 8 (b has no work).
  CHECK(workers.reserve(0, 0, 8) == 8);
  // b has work now: none is free, so it gets nothing yet and waits.
  CHECK(workers.reserve(1, 0, 8) == 0);
  // One of a's tasks ends: a is above its share (6), so the free worker is b's (owed 2).
  CHECK(workers.reserve(0, 7, 1) == 0);
  CHECK(wakes_of_b == 1); // a holds less: b is woken
  CHECK(workers.reserve(1, 0, 8) == 1);
  workers.update(0, 6, true);
  CHECK(workers.reserve(1, 1, 8) == 1);
  // At the split 6 : 2, a free worker goes to whoever is below its share.
  CHECK(workers.room(0, 6, 8) == 0);
  CHECK(workers.room(1, 2, 8) == 0);
  workers.update(0, 5, true);
  CHECK(workers.room(1, 2, 8) == 0); // b has its 2: the free one is a's
  CHECK(workers.reserve(0, 5, 8) == 1);
  // b runs out of work: its share is free for a.
  workers.update(1, 0, false);
  CHECK(workers.reserve(0, 6, 8) == 2);
}

TEST_CASE("a weight of 1000 against 1 is a strict priority, and equal weights split evenly") {
  SharedWorkers priority(4, {1000, 1});
  CHECK(priority.room(1, 0, 4) == 0); // the first may have a backlog: the low queue waits
  priority.update(0, 0, false);
  CHECK(priority.reserve(1, 0, 4) == 4); // alone, the low queue takes everything
  priority.update(1, 0, false);
  CHECK(priority.reserve(0, 0, 4) == 4);
  CHECK(priority.reserve(1, 0, 4) == 0);
  priority.update(0, 3, true);
  CHECK(priority.room(1, 0, 4) == 0); // owed nothing while the first wants more
  priority.update(0, 3, false);
  CHECK(priority.room(1, 0, 4) == 1); // what the first leaves

  SharedWorkers even(6, {1, 1, 1});
  even.update(1, 0, false);
  even.update(2, 0, false);
  CHECK(even.reserve(0, 0, 6) == 6);
  CHECK(even.reserve(1, 0, 6) == 0);
  CHECK(even.reserve(2, 0, 6) == 0);
  for (int held = 5; held >= 2; --held) {
    CHECK(even.reserve(0, held, 6) == 0); // above its share of 2: the others are owed theirs
  }
  CHECK(even.reserve(1, 0, 6) == 2);
  CHECK(even.reserve(2, 0, 6) == 2);
}

TEST_CASE("however members reserve and release, no more than the capacity is held, and a member "
          "left alone may take all that is free") {
  SharedWorkers workers(8, {5, 2, 1});
  std::vector<int> held(3, 0);
  std::mt19937 random(42);
  for (int step = 0; step < 100000; ++step) {
    const int member = static_cast<int>(random() % 3);
    if (random() % 2 == 0 && held[member] > 0) {
      held[member] -= static_cast<int>(random() % held[member]) + 1; // tasks end
      workers.update(member, held[member], random() % 4 != 0);
    } else {
      const int wanted = static_cast<int>(random() % 9);
      held[member] += workers.reserve(member, held[member], wanted);
    }
    REQUIRE(held[0] + held[1] + held[2] <= 8);
    REQUIRE(workers.held(member) == held[member]);
    // Work-conserving: a member that wants may take whatever is free when it is alone.
  }
  for (int member = 0; member < 3; ++member) {
    workers.update(member, held[member], false);
  }
  const int free = 8 - held[0] - held[1] - held[2];
  CHECK(workers.room(2, held[2], 8) == free);
}

TEST_CASE("what is left of whole shares goes to the heaviest: 1000 against 1 is a strict "
          "priority up to 1000 workers") {
  for (const int capacity : {1, 2, 4, 500, 501, 600, 999, 1000}) {
    CAPTURE(capacity);
    SharedWorkers workers(capacity, {1000, 1});
    workers.update(0, capacity - 1, true);
    CHECK(workers.room(1, 0, capacity) == 0); // the first is owed every worker
    CHECK(workers.room(0, capacity - 1, capacity) == 1);
  }
  SharedWorkers workers(1024, {1000, 1});
  workers.update(0, 1023, true);
  CHECK(workers.room(1, 0, 1024) == 1); // 1024 × 1 / 1001: a whole worker
  // Between equals, the first listed.
  SharedWorkers even(4, {1, 1, 1});
  even.update(0, 0, true);
  even.update(1, 0, true);
  CHECK(even.room(2, 0, 4) == 1); // owed 1 of 4 (the spare one is the first's)
}
