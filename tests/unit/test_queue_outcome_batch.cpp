#include "queue/outcome_batch.hpp"

#include <doctest/doctest.h>

using namespace pgtq::queue;

TEST_CASE("outcomes encode as the arrays pgtq.finish_many reads") {
  Outcome done{.id = 1, .claim = -2, .status = OutcomeStatus::done, .result = R"({"a":"x\"y\\"})"};
  Outcome retry{.id = 3,
                .claim = 1,
                .status = OutcomeStatus::retry,
                .error = "boom \"quoted\", {NULL}",
                .retry_in_s = 1.5};
  Outcome fail{.id = 4, .claim = 1, .status = OutcomeStatus::fail, .error = std::string("a\0b", 3)};
  Outcome snooze{.id = 5, .claim = 3, .status = OutcomeStatus::snooze, .retry_in_s = 10};
  Outcome far{
      .id = 6, .claim = 9, .status = OutcomeStatus::retry, .error = "", .retry_in_s = 1e300};
  const OutcomeArrays arrays = encode_outcomes({done, retry, fail, snooze, far});

  CHECK(arrays.task_ids == "{1,3,4,5,6}");
  CHECK(arrays.task_claims == "{-2,1,1,3,9}");
  CHECK(arrays.statuses == "{done,retry,fail,snooze,retry}");
  // Quoted elements: inside the quotes only " and \ take a backslash.
  CHECK(arrays.results == R"({"{\"a\":\"x\\\"y\\\\\"}",NULL,NULL,NULL,NULL})");
  // A NUL cannot travel in a text parameter: it became a space. A snooze without an error
  // has none; a retry or a failure always has one, even an empty one.
  CHECK(arrays.errors == R"({NULL,"boom \"quoted\", {NULL}","a b",NULL,""})");
  // Delays are clamped to what the database can store (100 years).
  CHECK(arrays.retry_in == "{NULL,1.5,NULL,10,3155760000}");
}

TEST_CASE("an empty batch encodes as empty arrays") {
  const OutcomeArrays arrays = encode_outcomes({});
  CHECK(arrays.task_ids == "{}");
  CHECK(arrays.statuses == "{}");
  CHECK(arrays.results == "{}");
  CHECK(arrays.retry_in == "{}");
}

TEST_CASE("error text is made storable: valid UTF-8 kept, invalid bytes and NUL replaced") {
  CHECK(storable_text("plain") == "plain");
  CHECK(storable_text("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80") ==
        "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
  CHECK(storable_text(std::string("a\0b", 3)) == "a b");
  CHECK(storable_text("bad \xFF byte") == "bad \xEF\xBF\xBD byte");
  CHECK(storable_text("cut \xE2\x82") == "cut \xEF\xBF\xBD\xEF\xBF\xBD");
  // Overlong encoding of '/' and a UTF-16 surrogate are not valid UTF-8.
  CHECK(storable_text("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(storable_text("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}
