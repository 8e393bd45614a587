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

TEST_CASE("with shared workers, the queues without workers of their own share them, weighed by "
          "queue-weights") {
  using pgtq::app::parse_queues;
  const std::vector<QueueEntry> queues = parse_queues("mail, reports=2, bulk", true, "mail=3");
  CHECK(queues == std::vector<QueueEntry>{{"mail", std::nullopt, true, 3},
                                          {"reports", 2, false, 1},
                                          {"bulk", std::nullopt, true, 1}});
  // Without shared-workers nothing is shared, and weights are refused.
  CHECK(parse_queues("mail, bulk", false, "") ==
        std::vector<QueueEntry>{{"mail", std::nullopt}, {"bulk", std::nullopt}});
  CHECK_THROWS_WITH_AS(parse_queues("mail, bulk", false, "mail=2"),
                       doctest::Contains("needs shared-workers = true"),
                       ConfigError);
  CHECK_THROWS_WITH_AS(parse_queues("mail, bulk", true, "post=2"),
                       doctest::Contains("\"post\", which is not a queue of the queue option"),
                       ConfigError);
  CHECK_THROWS_WITH_AS(parse_queues("mail, reports=2", true, "reports=2"),
                       doctest::Contains("has workers of its own (reports=2)"),
                       ConfigError);
  CHECK_THROWS_WITH_AS(
      parse_queues("mail", true, "mail"), doctest::Contains("needs a weight"), ConfigError);
  CHECK_THROWS_WITH_AS(parse_queues("mail", true, "mail=1001"),
                       doctest::Contains("\"1001\" is not a weight from 1 to 1000"),
                       ConfigError);
  CHECK(pgtq::app::queue_weights_error("") == "");
  CHECK(pgtq::app::queue_weights_error("a=2, b=1000") == "");
  CHECK(pgtq::app::queue_weights_error("a=0") ==
        "is not a list of queue weights: queue \"a\": \"0\" is not a weight from 1 to 1000");
  CHECK(pgtq::app::queue_weights_error("a=2, a=3") ==
        "is not a list of queue weights: queue \"a\" is given twice");
}
