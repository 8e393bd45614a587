#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgtq::web {

// The dashboard's logged-in sessions, in memory only (a restart logs everyone out). Each has
// a random token (the cookie) and a CSRF token of its own that every form of the session
// carries; both are compared in constant time, and a session ends lifetime after its login.
//
// Threads: the HTTP server's thread only (it answers one request at a time).
class SessionStore {
public:
  struct Session {
    std::string token;
    std::string csrf;
    std::chrono::steady_clock::time_point expires;
    std::string note; // see set_note
  };

  explicit SessionStore(std::chrono::seconds lifetime, std::size_t most = 1000)
      : m_lifetime(lifetime), m_most(most) {}

  // A new session; the oldest is dropped when there are `most` already.
  Session create();
  // The live session whose token this is, if any. Every stored token is compared, so the
  // time taken does not depend on which one (if any) matches.
  std::optional<Session> find(std::string_view token);
  void remove(std::string_view token);
  // A line for the session's next page (what its last action did), taken once.
  void set_note(std::string_view token, std::string note);
  std::string take_note(std::string_view token);

  std::chrono::seconds lifetime() const { return m_lifetime; }

private:
  void drop_expired();

  std::chrono::seconds m_lifetime;
  std::size_t m_most;
  std::vector<Session> m_sessions; // oldest first
};

} // namespace pgtq::web
