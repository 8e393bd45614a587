#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace pgtq::queue {

// The workers that several queues of one pgtqd share (shared-workers): at most capacity tasks
// held at once by all of their claim loops together, and while several of them have work, a
// split in proportion to their weights.
//
// Each claim loop is a member. A member with work is owed its share of the capacity by weight
// among the members with work (capacity × its weight / their weights, in whole workers that
// add up to the capacity: the whole parts, and what is left one each to the heaviest members,
// the first listed among equals); it may always take what it is owed, and beyond that only
// what the other members with work are not owed. Nothing idles for a share: a
// member takes every free worker while the others have no work (work-conserving), and gives
// them back as its tasks end. With weights 3 and 1 and 8 workers, a queue with work is owed 6
// and the other 2; with weights 1000 and 1 the second is owed none (up to 1000 workers) and runs
// only on workers the first leaves free (a strict priority).
//
// A member reports what it holds and whether it wants more (update) at the start and end of
// each turn (so a push that woke it counts before anyone's claim of that turn), and reserves
// what it claims (reserve) before claiming, so that two members claiming at once cannot both
// take the last worker. When a member holds less than before or stops wanting, the other
// members that want more are woken (their waker), since what they are owed may be free now.
//
// Threads: every method from any thread (a mutex); wakers are called without it held.
class SharedWorkers {
public:
  // weights: one per member, each at least 1.
  SharedWorkers(int capacity, std::vector<int> weights);

  int capacity() const { return m_capacity; }
  int weight(int member) const { return m_weights[static_cast<std::size_t>(member)]; }
  // Called when the member may claim again: set before the members run.
  void set_waker(int member, std::function<void()> waker);

  // How many more tasks member, holding held, may take now: at most wanted.
  int room(int member, int held, int wanted) const;
  // As room(), and takes them: the member holds held + the result and wants more.
  int reserve(int member, int held, int wanted);
  // The member holds held tasks, and wants more or not.
  void update(int member, int held, bool wanting);
  // What the member holds, as it last said (with what it reserved since).
  int held(int member) const;

private:
  struct Member {
    int held = 0;
    // From the start: until its first claim says otherwise, a member may have a backlog (tasks
    // queued before pgtqd started), and the first member to claim must not take its share.
    bool wanting = true;
    std::function<void()> waker;
  };

  int room_locked(int member, int held, int wanted) const;
  // Stores what member holds and wants; returns whether that may leave others room.
  bool store_locked(int member, int held, bool wanting);
  // Wakes every member but `except` that wants more (called without the lock).
  void wake_others(int except);

  const int m_capacity;
  const std::vector<int> m_weights;
  mutable std::mutex m_mutex;
  std::vector<Member> m_members; // guarded by m_mutex
};

// A claim loop's place among the members of SharedWorkers; workers null: its own workers.
struct SharedSeat {
  std::shared_ptr<SharedWorkers> workers;
  int member = 0;
};

} // namespace pgtq::queue
