#include "web/session_store.hpp"

#include "web/tokens.hpp"

#include <algorithm>
#include <utility>

namespace pgtq::web {

SessionStore::Session SessionStore::create() {
  drop_expired();
  if (m_sessions.size() >= m_most) {
    m_sessions.erase(m_sessions.begin());
  }
  Session session{.token = random_token(),
                  .csrf = random_token(),
                  .expires = std::chrono::steady_clock::now() + m_lifetime,
                  .note = {}};
  m_sessions.push_back(session);
  return session;
}

std::optional<SessionStore::Session> SessionStore::find(std::string_view token) {
  drop_expired();
  std::optional<Session> found;
  for (const Session& session : m_sessions) {
    if (constant_time_equal(session.token, token) && !token.empty()) {
      found = session;
    }
  }
  return found;
}

void SessionStore::remove(std::string_view token) {
  std::erase_if(m_sessions,
                [&](const Session& session) { return constant_time_equal(session.token, token); });
}

void SessionStore::set_note(std::string_view token, std::string note) {
  for (Session& session : m_sessions) {
    if (constant_time_equal(session.token, token)) {
      session.note = std::move(note);
    }
  }
}

std::string SessionStore::take_note(std::string_view token) {
  std::string note;
  for (Session& session : m_sessions) {
    if (constant_time_equal(session.token, token)) {
      note = std::exchange(session.note, {});
    }
  }
  return note;
}

void SessionStore::drop_expired() {
  const auto now = std::chrono::steady_clock::now();
  std::erase_if(m_sessions, [&](const Session& session) { return session.expires <= now; });
}

} // namespace pgtq::web
