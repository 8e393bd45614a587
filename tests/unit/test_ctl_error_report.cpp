// pgtqctl's reading of libpq's error text (ctl/error_report.hpp): the message, DETAIL and HINT
// kept, the statement's name, severity, query position and call stack dropped.
#include "ctl/error_report.hpp"

#include <doctest/doctest.h>

using pgtq::ctl::ErrorReport;
using pgtq::ctl::parse_error_text;

TEST_CASE("pgtqctl keeps an error's message, DETAIL and HINT and drops the rest") {
  SUBCASE("a function's error with detail, hint and call stack") {
    const ErrorReport report =
        parse_error_text("pgtq_push: ERROR:  queue \"q\" has a task with unique key \"k\": task 1\n"
                         "DETAIL:  The task that holds the key is queued.\n"
                         "HINT:  Push with another key.\n"
                         "CONTEXT:  PL/pgSQL function pgtq.insert_unique(text) line 40 at RAISE\n"
                         "PL/pgSQL function pgtq.push(text,text) line 12 at assignment\n");
    CHECK(report.message == "queue \"q\" has a task with unique key \"k\": task 1");
    CHECK(report.detail == "The task that holds the key is queued.");
    CHECK(report.hint == "Push with another key.");
  }
  SUBCASE("a missing relation with the query position") {
    const ErrorReport report =
        parse_error_text("pgtq_list: ERROR:  relation \"pgtq.tasks\" does not exist\n"
                         "LINE 1: SELECT * FROM pgtq.tasks\n"
                         "                      ^\n");
    CHECK(report.message == "relation \"pgtq.tasks\" does not exist");
    CHECK_FALSE(report.detail);
    CHECK_FALSE(report.hint);
  }
  SUBCASE("a multi-line detail, then an internal query") {
    const ErrorReport report = parse_error_text("script: FEHLER:  boom\n"
                                                "DETAIL:  one\n"
                                                "two\n"
                                                "QUERY:  SELECT 1\n"
                                                "CONTEXT:  somewhere\n");
    CHECK(report.message == "boom");
    CHECK(report.detail == "one\ntwo");
  }
  SUBCASE("what a caller wrote before the statement's name stays") {
    CHECK(parse_error_text("migration 0003_x.sql failed: script: ERROR:  boom").message ==
          "migration 0003_x.sql failed: boom");
    CHECK(parse_error_text("cannot connect to PostgreSQL: connection to server on socket "
                           "\"/tmp/.s.PGSQL.5432\" failed: FATAL:  database \"x\" does not exist")
              .message == "cannot connect to PostgreSQL: connection to server on socket "
                          "\"/tmp/.s.PGSQL.5432\" failed: database \"x\" does not exist");
  }
  SUBCASE("text without a severity is kept as it is") {
    CHECK(parse_error_text("pgtq_push: server closed the connection unexpectedly").message ==
          "pgtq_push: server closed the connection unexpectedly");
  }
}

TEST_CASE("pgtqctl takes a missing schema, table, function or type for an unmigrated database") {
  for (const char* state : {"3F000", "42883", "42P01", "42704"}) {
    CHECK(pgtq::ctl::means_unmigrated(state));
  }
  for (const char* state : {"", "22023", "23505", "08006"}) {
    CHECK_FALSE(pgtq::ctl::means_unmigrated(state));
  }
}
