#include "queue/outcome_batch.hpp"

#include <doctest/doctest.h>
#include <rapidjson/document.h>

using namespace pgtq::queue;

TEST_CASE("outcomes encode as the JSON array pgtq.finish_many reads") {
  Outcome done{.id = 1, .claim = 2, .status = OutcomeStatus::done, .result = R"({"a":[1,2]})"};
  Outcome retry{.id = 3, .claim = 1, .status = OutcomeStatus::retry, .error = "boom \"quoted\"",
                .retry_in_s = 1.5};
  Outcome fail{.id = 4, .claim = 1, .status = OutcomeStatus::fail, .error = "bad args"};
  Outcome snooze{.id = 5, .claim = 3, .status = OutcomeStatus::snooze, .retry_in_s = 10};
  const std::string json = encode_outcomes({done, retry, fail, snooze});

  rapidjson::Document parsed;
  parsed.Parse(json.c_str());
  REQUIRE_FALSE(parsed.HasParseError());
  REQUIRE(parsed.IsArray());
  REQUIRE(parsed.Size() == 4);
  CHECK(parsed[0]["id"].GetInt64() == 1);
  CHECK(parsed[0]["claim"].GetInt() == 2);
  CHECK(std::string(parsed[0]["status"].GetString()) == "done");
  CHECK(parsed[0]["result"]["a"][1].GetInt() == 2);
  CHECK(std::string(parsed[1]["status"].GetString()) == "retry");
  CHECK(std::string(parsed[1]["error"].GetString()) == "boom \"quoted\"");
  CHECK(parsed[1]["retry_in"].GetDouble() == doctest::Approx(1.5));
  CHECK(std::string(parsed[2]["status"].GetString()) == "fail");
  CHECK_FALSE(parsed[2].HasMember("result"));
  CHECK(std::string(parsed[3]["status"].GetString()) == "snooze");
  CHECK(parsed[3]["retry_in"].GetDouble() == doctest::Approx(10));
}

TEST_CASE("error text is made storable: valid UTF-8 kept, invalid bytes and NUL replaced") {
  CHECK(storable_text("plain") == "plain");
  CHECK(storable_text("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80") == "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
  CHECK(storable_text(std::string("a\0b", 3)) == "a b");
  CHECK(storable_text("bad \xFF byte") == "bad \xEF\xBF\xBD byte");
  CHECK(storable_text("cut \xE2\x82") == "cut \xEF\xBF\xBD\xEF\xBF\xBD");
  // Overlong encoding of '/' and a UTF-16 surrogate are not valid UTF-8.
  CHECK(storable_text("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(storable_text("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}
