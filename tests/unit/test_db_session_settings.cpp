#include "db/connection.hpp"

#include <doctest/doctest.h>

using namespace pgtq::db;

TEST_CASE("session settings become startup options, after the DSN's own") {
  SessionSettings settings;
  CHECK(startup_options(settings).empty());
  settings.read_committed = true;
  CHECK(startup_options(settings) == "-c default_transaction_isolation=read\\ committed");
  settings.lock_timeout = std::chrono::milliseconds(500);
  settings.statement_timeout = std::chrono::milliseconds(2000);
  CHECK(startup_options(settings, "-c search_path=app") ==
        "-c search_path=app -c default_transaction_isolation=read\\ committed "
        "-c lock_timeout=500 -c statement_timeout=2000");
  settings.asynchronous_commit = true;
  CHECK(startup_options(settings).ends_with("-c synchronous_commit=off"));
}

TEST_CASE("application names are cut to 63 bytes, never inside a UTF-8 character") {
  CHECK(bounded_application_name("pgtqd:default:claim:host:1") == "pgtqd:default:claim:host:1");
  CHECK(bounded_application_name(std::string(80, 'a')) == std::string(63, 'a'));
  // "é" is two bytes; at 62 + 2 the cut would fall inside it.
  const std::string name = std::string(62, 'a') + "\xC3\xA9" + "tail";
  CHECK(bounded_application_name(name) == std::string(62, 'a'));
  const std::string euro = std::string(61, 'a') + "\xE2\x82\xAC";
  CHECK(bounded_application_name(euro) == std::string(61, 'a'));
  CHECK(bounded_application_name(std::string(60, 'a') + "\xE2\x82\xAC") ==
        std::string(60, 'a') + "\xE2\x82\xAC");
}
