// app/queue_list: the queue option's list of queues, each with its own number of workers or
// the concurrency option's.
#include "app/config.hpp"
#include "app/queue_list.hpp"

#include <doctest/doctest.h>

using pgtq::app::ConfigError;
using pgtq::app::parse_queue_list;
using pgtq::app::queue_list_error;
using pgtq::app::QueueEntry;

TEST_CASE("a queue list is one name or several, each with its own workers or none given") {
  CHECK(parse_queue_list("mail") == std::vector<QueueEntry>{{"mail", std::nullopt}});
  CHECK(parse_queue_list("mail, reports=2,tenant:1 = 16") ==
        std::vector<QueueEntry>{{"mail", std::nullopt}, {"reports", 2}, {"tenant:1", 16}});
  CHECK(parse_queue_list(" a=1024 ") == std::vector<QueueEntry>{{"a", 1024}});
  CHECK(pgtq::app::queue_names(parse_queue_list("a=3, b")) == "a, b");
}

TEST_CASE("a bad queue list is refused naming the entry and why") {
  CHECK_THROWS_WITH_AS(parse_queue_list(""), "no queue given", ConfigError);
  CHECK_THROWS_WITH_AS(parse_queue_list("a,,b"),
                       "an empty entry: queues are separated by single commas",
                       ConfigError);
  CHECK_THROWS_WITH_AS(parse_queue_list("a, b ,a=2"), "queue \"a\" is given twice", ConfigError);
  CHECK_THROWS_WITH_AS(parse_queue_list("a, b c"),
                       "\"b c\" is not a queue name (1-128 characters from [A-Za-z0-9_.:-])",
                       ConfigError);
  CHECK_THROWS_WITH_AS(
      parse_queue_list("=2"), doctest::Contains("is not a queue name"), ConfigError);
  CHECK(parse_queue_list("a=0002, b=000000000000000000003") ==
        std::vector<QueueEntry>{{"a", 2}, {"b", 3}});
  for (const char* count : {"0", "1025", "x", "", "2.5", "-1", "+2", "00000", "99999999999"}) {
    CAPTURE(count);
    const std::string expected =
        "queue \"b\": \"" + std::string(count) + "\" is not a number of workers from 1 to 1024";
    CHECK_THROWS_WITH_AS(parse_queue_list(std::string("a, b=") + count),
                         doctest::Contains(expected.c_str()),
                         ConfigError);
  }
  CHECK(queue_list_error("a") == "");
  CHECK(queue_list_error("a=0") ==
        "is not a list of queues: queue \"a\": \"0\" is not a number of workers from 1 to 1024");
}
