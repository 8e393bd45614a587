// The dashboard's sessions (daemon/web/session_store.hpp).
#include "web/session_store.hpp"

#include <doctest/doctest.h>

using namespace pgtq;

TEST_CASE("web: sessions are found by their token only, and end") {
  web::SessionStore store(std::chrono::seconds(3600), 2);
  const auto first = store.create();
  CHECK(store.find(first.token)->csrf == first.csrf);
  CHECK_FALSE(store.find(""));
  CHECK_FALSE(store.find(first.csrf));
  CHECK_FALSE(store.find(first.token.substr(1)));
  store.set_note(first.token, "done");
  CHECK(store.take_note(first.token) == "done");
  CHECK(store.take_note(first.token).empty());
  store.create();
  store.create(); // the third: the oldest goes
  CHECK_FALSE(store.find(first.token));

  web::SessionStore expired(std::chrono::seconds(0));
  CHECK_FALSE(expired.find(expired.create().token));
}
