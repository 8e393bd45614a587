// Every public SQL function refuses every bad argument with a documented SQLSTATE and a
// message naming the argument, and changes nothing (sql/migrations/0008).
#include "pgtq/client.hpp"
#include "support/sql.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>
#include <libpq-fe.h>

#include <string>
#include <vector>

using namespace pgtq;

namespace {

struct BadInput {
  std::string sql;      // one statement; {id} and {claim} stand for a running task's
  std::string sqlstate; // expected SQLSTATE
  std::string names;    // text the message must contain: the argument (or element) named
};

constexpr const char* k_null = "22004";
constexpr const char* k_bad = "22023";
constexpr const char* k_limit = "54000";

// Values that are no queue or task name: 22023 unless NULL.
const std::vector<std::string> k_bad_names{
    "''", "repeat('n', 129)", "'a b'", "'a/b'", "'grüße'", "' q'", "E'q\\n'", "'q;drop'", "'*'"};
// Leases outside 1 second .. 1 day.
const std::vector<std::string> k_bad_leases{"'0'",
                                            "'-5 seconds'",
                                            "'0.5 seconds'",
                                            "'2 days'",
                                            "'1 month'",
                                            "'1 year'",
                                            "'-1 day'",
                                            "'999999 hours'",
                                            "'86401 seconds'",
                                            "'178000000 years'"};
// Delays outside 0 .. 100 years.
const std::vector<std::string> k_bad_delays{"'-1 day'",
                                            "'-1 second'",
                                            "'101 years'",
                                            "'1000 years'",
                                            "'300 years'",
                                            "'36526 days'",
                                            "'5000000 years -1826000000 days'",
                                            "'178000000 years'",
                                            "'-178000000 years'",
                                            "'2147483647 days'",
                                            "'2562047788 hours'",
                                            "'1202 months'"};
// run_at values outside now() +- 100 years.
const std::vector<std::string> k_bad_run_ats{"'infinity'",
                                             "'-infinity'",
                                             "'3000-01-01'",
                                             "'1900-01-01'",
                                             "'294276-01-01'",
                                             "'4713-01-01 BC'",
                                             "now() + interval '101 years'",
                                             "now() - interval '101 years'"};

void add_name_cases(std::vector<BadInput>& cases) {
  for (const std::string& name : k_bad_names) {
    cases.push_back({"SELECT pgtq.push(" + name + ", 't')", k_bad, "queue"});
    cases.push_back({"SELECT pgtq.push('q', " + name + ")", k_bad, "task"});
    cases.push_back({"SELECT pgtq.push_many(" + name + ", '[{\"task\":\"t\"}]')", k_bad, "queue"});
    cases.push_back(
        {"SELECT pgtq.push_many('q', jsonb_build_array(jsonb_build_object('task', " + name + ")))",
         k_bad,
         "task"});
    cases.push_back({"SELECT * FROM pgtq.claim(" + name + ", '{t}', 1, 'w')", k_bad, "queue"});
    cases.push_back({"SELECT * FROM pgtq.pop(" + name + ", '{t}', 1, 'w')", k_bad, "queue"});
  }
  cases.push_back({"SELECT pgtq.push(NULL, 't')", k_null, "queue"});
  cases.push_back({"SELECT pgtq.push('q', NULL)", k_null, "task"});
  cases.push_back({"SELECT pgtq.push_many(NULL, '[{\"task\":\"t\"}]')", k_null, "queue"});
  cases.push_back({"SELECT * FROM pgtq.claim(NULL, '{t}', 1, 'w')", k_null, "queue"});
  cases.push_back({"SELECT * FROM pgtq.pop(NULL, '{t}', 1, 'w')", k_null, "queue"});
}

void add_time_cases(std::vector<BadInput>& cases) {
  for (const std::string& run_at : k_bad_run_ats) {
    cases.push_back({"SELECT pgtq.push('q', 't', run_at => " + run_at + ")", k_bad, "run_at"});
    cases.push_back({"SELECT pgtq.push_many('q', jsonb_build_array('{\"task\":\"t\"}'::jsonb, "
                     "jsonb_build_object('task', 't', 'run_at', (" +
                         run_at + ")::timestamptz::text)))",
                     k_bad,
                     "element 2"});
  }
  // Text no timestamp parser accepts, or one past its range.
  for (const std::string run_at : {"garbage", "294277-01-01", "4714-11-23 BC"}) {
    cases.push_back(
        {"SELECT pgtq.push_many('q', '[{\"task\":\"t\",\"run_at\":\"" + run_at + "\"}]')",
         k_bad,
         "run_at"});
  }
  for (const std::string& delay : k_bad_delays) {
    cases.push_back({"SELECT pgtq.push('q', 't', delay => " + delay + ")", k_bad, "delay"});
    cases.push_back({"SELECT pgtq.push_many('q', jsonb_build_array(jsonb_build_object("
                     "'task', 't', 'delay', (" +
                         delay + ")::interval::text)))",
                     k_bad,
                     "delay"});
    cases.push_back({"SELECT pgtq.snooze({id}, {claim}, " + delay + ")", k_bad, "delay"});
    cases.push_back({"SELECT pgtq.fail({id}, {claim}, 'e', " + delay + ")", k_bad, "retry_in"});
  }
  cases.push_back(
      {"SELECT pgtq.push_many('q', '[{\"task\":\"t\",\"delay\":\"100000000000 years\"}]')",
       k_bad,
       "delay"});
  // Each part in range, the sum not.
  cases.push_back({"SELECT pgtq.push('q', 't', run_at => now() + interval '99 years', "
                   "delay => '2 years')",
                   k_bad,
                   "run_at + delay"});
  cases.push_back({"SELECT pgtq.push_many('q', jsonb_build_array(jsonb_build_object('task', 't', "
                   "'run_at', (now() + interval '99 years')::text, 'delay', '2 years')))",
                   k_bad,
                   "run_at + delay"});
  cases.push_back({"SELECT pgtq.snooze({id}, {claim}, NULL)", k_null, "delay"});
}

// args (arrays or objects only) and results (any JSON): size as text and depth.
void add_json_cases(std::vector<BadInput>& cases) {
  const std::vector<std::string> too_big{
      "jsonb_build_array(repeat('x', 1048576))",
      "('[' || repeat('1e131071,', 8) || '1e131071]')::jsonb",
      "('[' || repeat('[', 100) || repeat(']', 100) || ']')::jsonb",
      "('[' || repeat('[', 10000) || repeat(']', 10000) || ']')::jsonb",
      "(SELECT jsonb_object_agg(i, repeat('y', 100)) FROM generate_series(1, 11000) i)",
      "('{\"a\":' || repeat('{\"a\":', 100) || '1' || repeat('}', 100) || '}')::jsonb"};
  for (const std::string& value : too_big) {
    cases.push_back({"SELECT pgtq.push('q', 't', " + value + ")", k_limit, "args"});
    cases.push_back({"SELECT pgtq.push_many('q', jsonb_build_array(jsonb_build_object('task', "
                     "'t', 'args', " +
                         value + ")))",
                     k_limit,
                     "args"});
    cases.push_back({"SELECT pgtq.complete({id}, {claim}, " + value + ")", k_limit, "result"});
    cases.push_back({"SELECT * FROM pgtq.finish_many(jsonb_build_array(jsonb_build_object("
                     "'id', {id}, 'claim', {claim}, 'status', 'done', 'result', " +
                         value + ")))",
                     k_limit,
                     "result"});
  }
  for (const std::string value : {"'5'", "'\"x\"'", "'null'", "'true'", "'1.5'"}) {
    cases.push_back({"SELECT pgtq.push('q', 't', " + value + ")", k_bad, "args"});
    cases.push_back({"SELECT pgtq.push_many('q', jsonb_build_array(jsonb_build_object('task', "
                     "'t', 'args', " +
                         value + "::jsonb)))",
                     k_bad,
                     "args"});
  }
  cases.push_back({"SELECT pgtq.push('q', 't', NULL)", k_null, "args"});
}

void add_push_field_cases(std::vector<BadInput>& cases) {
  for (const std::string priority : {"32768", "-32769", "2147483647", "-2147483648"}) {
    cases.push_back(
        {"SELECT pgtq.push('q', 't', priority => " + priority + ")", k_bad, "priority"});
  }
  for (const std::string attempts : {"0", "-1", "1001", "2147483647"}) {
    cases.push_back(
        {"SELECT pgtq.push('q', 't', max_attempts => " + attempts + ")", k_bad, "max_attempts"});
  }

  // push_many elements: wrong JSON types are refused, not coerced.
  for (const std::string value :
       {"\"5\"", "5.7", "true", "[]", "{}", "1e300", "32768", "-32769", "2.5e0"}) {
    cases.push_back({"SELECT pgtq.push_many('q', '[{\"task\":\"t\",\"priority\":" + value + "}]')",
                     k_bad,
                     "priority"});
  }
  for (const std::string value : {"\"5\"", "0", "1001", "2.5", "false", "-1", "[5]"}) {
    cases.push_back(
        {"SELECT pgtq.push_many('q', '[{\"task\":\"t\",\"max_attempts\":" + value + "}]')",
         k_bad,
         "max_attempts"});
  }
  for (const std::string value : {"5", "true", "[]", "{}"}) {
    cases.push_back({"SELECT pgtq.push_many('q', '[{\"task\":\"t\",\"run_at\":" + value + "}]')",
                     k_bad,
                     "run_at"});
    cases.push_back({"SELECT pgtq.push_many('q', '[{\"task\":\"t\",\"delay\":" + value + "}]')",
                     k_bad,
                     "delay"});
    cases.push_back({"SELECT pgtq.push_many('q', '[{\"task\":" + value + "}]')", k_bad, "task"});
  }
  // Misspelt keys name the element and the key.
  for (const std::string key :
       {"prioirty", "max_attempt", "dealy", "Task", "args ", "runAt", "id", ""}) {
    cases.push_back(
        {"SELECT pgtq.push_many('q', '[{\"task\":\"t\"},{\"task\":\"t\",\"" + key + "\":1}]')",
         k_bad,
         "element 2: unknown key \"" + key + "\""});
  }
  for (const std::string element : {"5", "\"t\"", "[]", "null", "true"}) {
    cases.push_back(
        {"SELECT pgtq.push_many('q', '[{\"task\":\"t\"}," + element + "]')", k_bad, "element 2"});
  }
  cases.push_back({"SELECT pgtq.push_many('q', '[{\"task\":\"t\"},{\"args\":[]}]')",
                   k_bad,
                   "element 2: \"task\" is missing"});
  for (const std::string tasks : {"'{\"task\":\"t\"}'", "'5'", "'\"x\"'", "'null'", "'true'"}) {
    cases.push_back({"SELECT pgtq.push_many('q', " + tasks + ")", k_bad, "tasks"});
  }
  cases.push_back({"SELECT pgtq.push_many('q', NULL)", k_null, "tasks"});
}

void add_claim_cases(std::vector<BadInput>& cases) {
  for (const std::string function : {"claim", "pop"}) {
    const std::string call = "SELECT * FROM pgtq." + function;
    for (const std::string& lease : k_bad_leases) {
      cases.push_back({call + "('q', '{t}', 1, 'w', " + lease + ")", k_bad, "lease"});
    }
    cases.push_back({call + "('q', '{t}', 1, 'w', NULL)", k_null, "lease"});
    for (const std::string count : {"-1", "100001", "-2147483648", "2147483647"}) {
      cases.push_back({call + "('q', '{t}', " + count + ", 'w')", k_bad, "max_count"});
    }
    cases.push_back({call + "('q', '{t}', NULL, 'w')", k_null, "max_count"});
    cases.push_back({call + "('q', NULL, 1, 'w')", k_null, "task_names"});
    cases.push_back(
        {call + "('q', array_fill('t'::text, ARRAY[10001]), 1, 'w')", k_limit, "task_names"});
    cases.push_back({call + "('q', '{t}', 1, NULL)", k_null, "worker"});
    cases.push_back({call + "('q', '{t}', 1, '')", k_bad, "worker"});
    cases.push_back({call + "('q', '{t}', 1, repeat('w', 1048576))", k_bad, "worker"});
    cases.push_back({call + "('q', '{t}', 1, repeat('w', 1025))", k_bad, "worker"});
  }
}

void add_array_cases(std::vector<BadInput>& cases) {
  for (const std::string function : {"heartbeat", "release"}) {
    const std::string call = "SELECT * FROM pgtq." + function;
    cases.push_back({call + "(NULL, '{1}')", k_null, "task_ids"});
    cases.push_back({call + "('{1}', NULL)", k_null, "task_claims"});
    cases.push_back({call + "('{1}', '{1,2}')", k_bad, "task_claims"});
    cases.push_back({call + "('{}', '{1}')", k_bad, "task_claims"});
    cases.push_back({call + "('{1,2,3}', '{}')", k_bad, "task_claims"});
    cases.push_back({call + "('{{1},{2}}', '{{1},{2}}')", k_bad, "task_ids"});
    cases.push_back({call + "(array_fill(1::bigint, ARRAY[100001]), array_fill(1::bigint, "
                            "ARRAY[100001]))",
                     k_limit,
                     "task_ids"});
  }
  for (const std::string& lease : k_bad_leases) {
    cases.push_back(
        {"SELECT * FROM pgtq.heartbeat('{{id}}', '{{claim}}', " + lease + ")", k_bad, "lease"});
  }
  cases.push_back({"SELECT * FROM pgtq.heartbeat('{{id}}', '{{claim}}', NULL)", k_null, "lease"});
}

void add_outcome_cases(std::vector<BadInput>& cases) {
  for (const std::string function : {"complete", "fail", "snooze"}) {
    const std::string rest = function == "complete" ? "" : function == "fail" ? ", 'e'" : ", '1s'";
    cases.push_back({"SELECT pgtq." + function + "(NULL, {claim}" + rest + ")", k_null, "id"});
    cases.push_back({"SELECT pgtq." + function + "({id}, NULL" + rest + ")", k_null, "claim"});
  }
  cases.push_back({"SELECT pgtq.fail({id}, {claim}, NULL)", k_null, "error"});
  cases.push_back({"SELECT pgtq.fail({id}, {claim}, 'e', NULL, NULL)", k_null, "permanent"});

  const std::string prefix = "SELECT * FROM pgtq.finish_many('";
  const std::string good = R"("id":{id},"claim":{claim})";
  cases.push_back({"SELECT * FROM pgtq.finish_many(NULL)", k_null, "outcomes"});
  for (const std::string outcomes : {"{}", "5", "\"x\"", "null"}) {
    cases.push_back({prefix + outcomes + "')", k_bad, "outcomes"});
  }
  for (const std::string element : {"5", "[]", "\"x\"", "null"}) {
    cases.push_back({prefix + "[" + element + "]')", k_bad, "outcome 1"});
  }
  const std::vector<std::pair<std::string, std::string>> elements{
      {R"({"claim":{claim},"status":"done"})", "id"},
      {R"({"id":null,"claim":{claim},"status":"done"})", "id"},
      {R"({"id":{id},"status":"done"})", "claim"},
      {R"({"id":"1","claim":{claim},"status":"done"})", "id"},
      {R"({"id":1.5,"claim":{claim},"status":"done"})", "id"},
      {R"({"id":1e30,"claim":{claim},"status":"done"})", "id"},
      {R"({"id":[1],"claim":{claim},"status":"done"})", "id"},
      {R"({"id":{id},"claim":true,"status":"done"})", "claim"},
      {R"({"id":{id},"claim":"{claim}","status":"done"})", "claim"},
      {R"({"id":{id},"claim":9223372036854775808,"status":"done"})", "claim"},
      {"{" + good + "}", "status"},
      {"{" + good + R"(,"status":"DONE"})", "status"},
      {"{" + good + R"(,"status":5})", "status"},
      {"{" + good + R"(,"status":["done"]})", "status"},
      {"{" + good + R"(,"status":"cancel"})", "status"},
      {"{" + good + R"(,"status":"done","retry-in":1})", "unknown key \"retry-in\""},
      {"{" + good + R"(,"status":"done","results":1})", "unknown key \"results\""},
      {"{" + good + R"(,"status":"retry","eror":"x"})", "unknown key \"eror\""},
      {"{" + good + R"(,"status":"retry","error":5})", "error"},
      {"{" + good + R"(,"status":"retry","error":{}})", "error"},
      {"{" + good + R"(,"status":"retry","retry_in":"abc"})", "retry_in"},
      {"{" + good + R"(,"status":"retry","retry_in":true})", "retry_in"},
      {"{" + good + R"(,"status":"retry","retry_in":[1]})", "retry_in"},
  };
  for (const auto& [element, name] : elements) {
    const std::string sqlstate = element.find("\"id\":null") != std::string::npos ||
                                         element.find("\"id\"") == std::string::npos ||
                                         element.find("\"claim\"") == std::string::npos
                                     ? k_null
                                     : k_bad;
    cases.push_back({prefix + "[" + element + "]')", sqlstate, name});
  }
  cases.push_back(
      {prefix + "[{" + good + R"(,"status":"done"},{)" + good + R"(,"status":"retry"}]'))",
       k_bad,
       "more than once"});
}

// push_many's array form, what the C++ client sends.
void add_push_array_cases(std::vector<BadInput>& cases) {
  const auto call = [](const std::string& rest) {
    return "SELECT pgtq.push_many('q', " + rest + ")";
  };
  cases.push_back({call("NULL::text[], '{[]}'::jsonb[]"), k_null, "tasks"});
  cases.push_back({call("'{t}'::text[], NULL::jsonb[]"), k_null, "args"});
  cases.push_back({call("'{NULL}'::text[], '{[]}'::jsonb[]"), k_null, "tasks[1]"});
  cases.push_back({call("'{t,\"bad name\"}'::text[], '{[],[]}'::jsonb[]"), k_bad, "tasks[2]"});
  cases.push_back({call("'{t}'::text[], '{[],[]}'::jsonb[]"), k_bad, "as many"});
  cases.push_back({call("'{t}'::text[], '{5}'::jsonb[]"), k_bad, "args[1]"});
  cases.push_back({call("'{t}'::text[], '{\"null\"}'::jsonb[]"), k_bad, "args[1]"});
  cases.push_back(
      {call("'{t}'::text[], ARRAY[jsonb_build_array(repeat('x', 1048576))]"), k_limit, "args[1]"});
  cases.push_back({call("'{{t}}'::text[], '{{[]}}'::jsonb[]"), k_bad, "one-dimensional"});
  cases.push_back(
      {call("'{t}'::text[], '{[]}'::jsonb[], priorities => '{1,2}'"), k_bad, "as many"});
  cases.push_back(
      {call("'{t}'::text[], '{[]}'::jsonb[], priorities => '{40000}'"), k_bad, "priorities[1]"});
  cases.push_back(
      {call("'{t}'::text[], '{[]}'::jsonb[], max_attempts => '{0}'"), k_bad, "max_attempts[1]"});
  cases.push_back(
      {call("'{t}'::text[], '{[]}'::jsonb[], run_at => '{infinity}'"), k_bad, "run_at"});
  cases.push_back(
      {call("'{t}'::text[], '{[]}'::jsonb[], delays => '{\"-1 day\"}'"), k_bad, "delay"});
  cases.push_back(
      {call("'{t}'::text[], '{[]}'::jsonb[], delays => '{\"1000 years\"}'"), k_bad, "delay"});
  cases.push_back({call("(SELECT array_agg('t'::text) FROM generate_series(1, 100001)), "
                        "(SELECT array_agg('[]'::jsonb) FROM generate_series(1, 100001))"),
                   k_limit,
                   "100000"});
  cases.push_back({"SELECT pgtq.push_many(NULL, '{t}'::text[], '{[]}'::jsonb[])", k_null, "queue"});
}

// The array form pgtqd uses: six arrays of one length.
void add_outcome_array_cases(std::vector<BadInput>& cases) {
  const auto call = [](const std::string& ids,
                       const std::string& claims,
                       const std::string& statuses,
                       const std::string& results = "'{null}'",
                       const std::string& errors = "'{NULL}'",
                       const std::string& retry_in = "'{NULL}'") {
    return "SELECT * FROM pgtq.finish_many(" + ids + "::bigint[], " + claims + "::bigint[], " +
           statuses + "::text[], " + results + "::jsonb[], " + errors + "::text[], " + retry_in +
           "::float8[])";
  };
  const std::string id = "'{{id}}'";
  const std::string claim = "'{{claim}}'";
  cases.push_back({call("NULL", claim, "'{done}'"), k_null, "task_ids"});
  cases.push_back({call(id, "NULL", "'{done}'"), k_null, "task_claims"});
  cases.push_back({call(id, claim, "NULL"), k_null, "statuses"});
  cases.push_back({call(id, claim, "'{done}'", "NULL"), k_null, "results"});
  cases.push_back({call(id, claim, "'{done}'", "'{null}'", "NULL"), k_null, "errors"});
  cases.push_back(
      {call(id, claim, "'{done}'", "'{null}'", "'{NULL}'", "NULL"), k_null, "retry_in"});
  cases.push_back({call("'{NULL}'", claim, "'{done}'"), k_null, "task_ids[1]"});
  cases.push_back({call(id, "'{NULL}'", "'{done}'"), k_null, "task_claims[1]"});
  cases.push_back({call(id, claim, "'{NULL}'"), k_null, "statuses[1]"});
  for (const std::string status : {"DONE", "cancel", "", "done "}) {
    cases.push_back({call(id, claim, "'{\"" + status + "\"}'"), k_bad, "statuses[1]"});
  }
  cases.push_back({call("'{{id},1}'",
                        "'{{claim},1}'",
                        "'{done,done}'",
                        "'{null,null}'",
                        "'{NULL,NULL}'",
                        "'{NULL}'"),
                   k_bad,
                   "same length"});
  cases.push_back({call(id, "'{}'", "'{done}'"), k_bad, "same length"});
  cases.push_back(
      {call("'{{{id}}}'", "'{{{claim}}}'", "'{{done}}'", "'{{null}}'", "'{{NULL}}'", "'{{NULL}}'"),
       k_bad,
       "one-dimensional"});
  cases.push_back({call("(SELECT array_agg(g) FROM generate_series(1, 100001) g)",
                        "(SELECT array_agg(g) FROM generate_series(1, 100001) g)",
                        "array_fill('done'::text, ARRAY[100001])",
                        "array_fill('null'::jsonb, ARRAY[100001])",
                        "array_fill(NULL::text, ARRAY[100001])",
                        "array_fill(NULL::float8, ARRAY[100001])"),
                   k_limit,
                   "100000"});
  cases.push_back({call(id, claim, "'{done}'", "ARRAY[jsonb_build_array(repeat('x', 1048576))]"),
                   k_limit,
                   "results[1]"});
  cases.push_back({call(id,
                        claim,
                        "'{done}'",
                        "ARRAY[('[' || repeat('[', 100) || repeat(']', 100) || ']')::jsonb]"),
                   k_limit,
                   "results[1]"});
  cases.push_back({call("'{{id},{id}}'",
                        "'{{claim},{claim}}'",
                        "'{done,retry}'",
                        "'{null,null}'",
                        "'{NULL,NULL}'",
                        "'{NULL,NULL}'"),
                   k_bad,
                   "more than once"});
}

void add_maintenance_cases(std::vector<BadInput>& cases) {
  cases.push_back({"SELECT pgtq.cancel(NULL)", k_null, "id"});
  cases.push_back({"SELECT * FROM pgtq.tick(NULL)", k_null, "max_count"});
  for (const std::string count : {"0", "-1", "100001", "-2147483648"}) {
    cases.push_back({"SELECT * FROM pgtq.tick(" + count + ")", k_bad, "max_count"});
  }
  cases.push_back({"SELECT pgtq.prune(NULL)", k_null, "finished_before"});
  for (const std::string when :
       {"'infinity'", "'-infinity'", "now() + interval '1 day'", "'294276-01-01'"}) {
    cases.push_back({"SELECT pgtq.prune(" + when + ")", k_bad, "finished_before"});
  }
  cases.push_back({"SELECT pgtq.backoff(NULL)", k_null, "attempt"});
  cases.push_back({"SELECT pgtq.backoff(-1)", k_bad, "attempt"});
  for (const std::string base : {"'NaN'", "-1", "'Infinity'", "'-Infinity'"}) {
    cases.push_back({"SELECT pgtq.backoff(3, " + base + ")", k_bad, "base"});
  }
  for (const std::string factor : {"'NaN'", "0.5", "-2", "'Infinity'"}) {
    cases.push_back({"SELECT pgtq.backoff(3, 1, " + factor + ")", k_bad, "factor"});
  }
  for (const std::string cap : {"'NaN'", "-1", "'-Infinity'"}) {
    cases.push_back({"SELECT pgtq.backoff(3, 1, 2, " + cap + ")", k_bad, "cap"});
  }
  cases.push_back({"SELECT pgtq.backoff(3, NULL)", k_null, "base"});
  cases.push_back({"SELECT pgtq.backoff(3, 1, NULL)", k_null, "factor"});
  cases.push_back({"SELECT pgtq.backoff(3, 1, 2, NULL)", k_null, "cap"});
}

void add_redrive_cases(std::vector<BadInput>& cases) {
  cases.push_back({"SELECT pgtq.retry(NULL)", k_null, "id"});
  cases.push_back({"SELECT pgtq.delete(NULL)", k_null, "id"});
  cases.push_back({"SELECT pgtq.delete({id})", "55000", "running"});
  for (const std::string run_at : {"'infinity'", "now() + interval '101 years'"}) {
    cases.push_back({"SELECT pgtq.retry(1, " + run_at + ")", k_bad, "run_at"});
  }
  for (const std::string bulk : {"retry_all", "cancel_all"}) {
    const std::string call = "SELECT pgtq." + bulk + "(";
    for (const std::string& name : k_bad_names) {
      cases.push_back({call + "queue => " + name + ")", k_bad, "queue"});
      cases.push_back({call + "task => " + name + ")", k_bad, "task"});
    }
    cases.push_back({call + "states => NULL)", k_null, "states"});
    cases.push_back({call + "states => '{}')", k_bad, "states"});
    cases.push_back({call + "states => '{succeeded}')", k_bad, "states"});
    cases.push_back({call + "states => ARRAY[NULL]::pgtq.task_state[])", k_bad, "states"});
    cases.push_back({call + "states => '{{queued},{running}}')", k_bad, "states"});
    cases.push_back({call + "max_count => NULL)", k_null, "max_count"});
    for (const std::string count : {"0", "-1", "100001"}) {
      cases.push_back({call + "max_count => " + count + ")", k_bad, "max_count"});
    }
    cases.push_back({call + "dry_run => NULL)", k_null, "dry_run"});
  }
  for (const std::string state : {"queued", "scheduled", "running"}) {
    cases.push_back({"SELECT pgtq.retry_all(states => '{" + state + "}')", k_bad, "states"});
  }
  cases.push_back({"SELECT pgtq.cancel_all(states => '{failed}')", k_bad, "states"});
  cases.push_back({"SELECT pgtq.retry_all(error_contains => '')", k_bad, "error_contains"});
  cases.push_back({"SELECT pgtq.update(NULL)", k_null, "id"});
  cases.push_back({"SELECT pgtq.update({id}, priority => 1)", "55000", "running"});
  cases.push_back({"SELECT pgtq.requeue_finished('{1}', 'infinity')", k_bad, "start_at"});
  for (const std::string control : {"pause", "resume", "reset_queue"}) {
    for (const std::string& name : k_bad_names) {
      cases.push_back({"SELECT pgtq." + control + "(" + name + ")", k_bad, "queue"});
    }
    cases.push_back({"SELECT pgtq." + control + "(NULL)", k_null, "queue"});
  }
  for (const std::string& name : k_bad_names) {
    cases.push_back({"SELECT pgtq.set_global_concurrency(" + name + ", 2)", k_bad, "queue"});
  }
  cases.push_back({"SELECT pgtq.set_global_concurrency(NULL, 2)", k_null, "queue"});
  for (const std::string limit : {"0", "-1", "100001"}) {
    cases.push_back(
        {"SELECT pgtq.set_global_concurrency('q', " + limit + ")", k_bad, "max_running"});
  }
  for (const std::string& name : k_bad_names) {
    cases.push_back({"SELECT pgtq.set_rate_limit(" + name + ", 2, '1 second')", k_bad, "queue"});
  }
  cases.push_back({"SELECT pgtq.set_rate_limit(NULL, 2, '1 second')", k_null, "queue"});
  for (const std::string limit : {"0", "-1", "1000001"}) {
    cases.push_back(
        {"SELECT pgtq.set_rate_limit('q', " + limit + ", '1 second')", k_bad, "max_starts"});
  }
  cases.push_back({"SELECT pgtq.set_rate_limit('q', 2, NULL)", k_null, "per"});
  for (const std::string per : {"'0'", "'0.5 seconds'", "'-1 second'", "'2 days'"}) {
    cases.push_back({"SELECT pgtq.set_rate_limit('q', 2, " + per + ")", k_bad, "per"});
  }
}

void add_wake_up_cases(std::vector<BadInput>& cases) {
  for (const std::string& name : k_bad_names) {
    cases.push_back({"SELECT pgtq.worker_idle(" + name + ", 'w')", k_bad, "queue"});
    cases.push_back({"SELECT pgtq.worker_busy(" + name + ")", k_bad, "queue"});
    cases.push_back({"SELECT pgtq.pushes_in_flight(" + name + ")", k_bad, "queue"});
  }
  cases.push_back({"SELECT pgtq.worker_idle(NULL, 'w')", k_null, "queue"});
  cases.push_back({"SELECT pgtq.worker_busy(NULL)", k_null, "queue"});
  cases.push_back({"SELECT pgtq.pushes_in_flight(NULL)", k_null, "queue"});
  cases.push_back({"SELECT pgtq.worker_idle('q', NULL)", k_null, "worker"});
  for (const std::string worker : {"''", "repeat('w', 1025)"}) {
    cases.push_back({"SELECT pgtq.worker_idle('q', " + worker + ")", k_bad, "worker"});
  }
  cases.push_back({"SELECT pgtq.scheduler_waiting(NULL, '1 second')", k_null, "scheduler"});
  for (const std::string scheduler : {"''", "repeat('s', 1025)"}) {
    cases.push_back(
        {"SELECT pgtq.scheduler_waiting(" + scheduler + ", '1 second')", k_bad, "scheduler"});
  }
  cases.push_back({"SELECT pgtq.scheduler_waiting('s', NULL)", k_null, "wakes_in"});
  for (const std::string wakes_in : {"'-1 second'", "'1 day 1 second'", "'1 month'"}) {
    cases.push_back({"SELECT pgtq.scheduler_waiting('s', " + wakes_in + ")", k_bad, "wakes_in"});
  }
}

void add_delete_all_cases(std::vector<BadInput>& cases) {
  cases.push_back({"SELECT pgtq.delete_all(NULL)", k_null, "states"});
  for (const std::string states : {"'{}'", "'{running}'", "'{queued,running}'", "'{NULL}'"}) {
    cases.push_back({"SELECT pgtq.delete_all(" + states + ")", k_bad, "states"});
  }
  for (const std::string& name : k_bad_names) {
    cases.push_back({"SELECT pgtq.delete_all('{queued}', queue => " + name + ")", k_bad, "queue"});
    cases.push_back({"SELECT pgtq.delete_all('{queued}', task => " + name + ")", k_bad, "task"});
  }
  for (const std::string max : {"0", "100001"}) {
    cases.push_back(
        {"SELECT pgtq.delete_all('{queued}', max_count => " + max + ")", k_bad, "max_count"});
  }
  cases.push_back({"SELECT pgtq.delete_all('{queued}', dry_run => NULL)", k_null, "dry_run"});
}

void add_worker_registry_cases(std::vector<BadInput>& cases) {
  const auto call = [](const std::string& args) { return "SELECT pgtq.worker_seen(" + args + ")"; };
  cases.push_back(
      {call("NULL, 'q', 'h', 1, '1.0', 8, 'process', '5 seconds', now()"), k_null, "worker"});
  cases.push_back({call("'w', 'q', 'h', 1, '1.0', NULL, 'process', '5 seconds', now()"),
                   k_null,
                   "concurrency"});
  for (const std::string& name : k_bad_names) {
    cases.push_back({call("'w', " + name + ", 'h', 1, '1.0', 8, 'process', '5 seconds', now()"),
                     k_bad,
                     "queue"});
  }
  cases.push_back(
      {call("'', 'q', 'h', 1, '1.0', 8, 'process', '5 seconds', now()"), k_bad, "worker"});
  cases.push_back({call("repeat('w', 129), 'q', 'h', 1, '1.0', 8, 'process', '5 seconds', now()"),
                   k_bad,
                   "worker"});
  cases.push_back(
      {call("'w', 'q', 'h', 0, '1.0', 8, 'process', '5 seconds', now()"), k_bad, "pid"});
  for (const std::string names : {"ARRAY['a', NULL]",
                                  "ARRAY['a', '']",
                                  "ARRAY[repeat('n', 129)]",
                                  "'{{a},{b}}'",
                                  "array_fill('n'::text, ARRAY[10001])"}) {
    cases.push_back({call("'w', 'q', 'h', 1, '1.0', 8, 'process', '5 seconds', now(), " + names),
                     k_bad,
                     "task_names"});
  }
  cases.push_back(
      {call("'w', 'q', 'h', 1, '1.0', 0, 'process', '5 seconds', now()"), k_bad, "concurrency"});
  cases.push_back(
      {call("'w', 'q', 'h', 1, '1.0', 8, 'fork', '5 seconds', now()"), k_bad, "isolation"});
  cases.push_back(
      {call("'w', 'q', 'h', 1, '1.0', 8, 'process', '2 hours', now()"), k_bad, "heartbeat"});
  cases.push_back({call("'w', 'q', 'h', 1, '1.0', 8, 'process', '5 seconds', 'infinity'"),
                   k_bad,
                   "started_at"});
  for (const std::string grace : {"'0'", "'-1 second'", "'61 minutes'"}) {
    cases.push_back(
        {call("'w', 'q', 'h', 1, '1.0', 8, 'process', '5 seconds', now(), NULL, " + grace),
         k_bad,
         "session_grace"});
  }
  cases.push_back({"SELECT pgtq.worker_stopped(NULL, 'q')", k_null, "worker"});
  cases.push_back({"SELECT pgtq.worker_stopped('w', NULL)", k_null, "queue"});
}

void add_unique_cases(std::vector<BadInput>& cases) {
  const std::string push = "SELECT pgtq.push('q', 't', ";
  const std::string many = "SELECT pgtq.push_many('q', '{t,t}', '{\"[]\",\"[]\"}', ";
  for (const std::string key : {"''", "repeat('k', 1025)", "repeat('é', 513)"}) {
    cases.push_back({push + "unique_key => " + key + ")", k_bad, "unique_key"});
    cases.push_back({many + "unique_keys => ARRAY['a', " + key + "])", k_bad, "unique_keys[2]"});
  }
  for (const std::string states : {"'{queued}'",
                                   "'{succeeded}'",
                                   "'{queued,running,failed}'",
                                   "'{{queued,scheduled},{running,failed}}'"}) {
    cases.push_back(
        {push + "unique_key => 'k', unique_states => " + states + ")", k_bad, "unique_states"});
  }
  cases.push_back({push + "unique_key => 'k', unique_states => '{queued,scheduled,running,NULL}')",
                   k_null,
                   "unique_states"});
  for (const std::string period : {"'0'", "'-1 second'", "'101 years'"}) {
    cases.push_back(
        {push + "unique_key => 'k', unique_period => " + period + ")", k_bad, "unique_period"});
  }
  cases.push_back({push + "unique_key => 'k', unique_states => '{queued,scheduled,running}', "
                          "unique_period => '1 hour')",
                   k_bad,
                   "unique_period"});
  cases.push_back({push + "unique_key => 'k', on_conflict => 'update')", k_bad, "on_conflict"});
  cases.push_back({push + "unique_key => 'k', on_conflict => NULL)", k_null, "on_conflict"});
  // The unique options without a key are a mistake, not a plain push.
  for (const std::string option : {"unique_states => '{queued,scheduled,running}'",
                                   "unique_period => '1 hour'",
                                   "on_conflict => 'raise'"}) {
    cases.push_back({push + option + ")", k_bad, "unique_key"});
    cases.push_back({many + option + ")", k_bad, "unique_key"});
  }
  cases.push_back({many + "unique_keys => '{a}')", k_bad, "unique_keys"});
  cases.push_back({many + "unique_keys => '{{a},{b}}')", k_bad, "unique_keys"});
  // A bad element after a unique one: nothing is pushed, the first included.
  cases.push_back({"SELECT pgtq.push_many('q', '{t,t}', '{\"[]\",\"7\"}', "
                   "unique_keys => '{a,b}')",
                   k_bad,
                   "args[2]"});
}

void add_fairness_cases(std::vector<BadInput>& cases) {
  const std::string push = "SELECT pgtq.push('q', 't', ";
  const std::string many = "SELECT pgtq.push_many('q', '{t,t}', '{\"[]\",\"[]\"}', ";
  const std::string json = "SELECT pgtq.push_many('q', ('[{\"task\": \"t\"}, {\"task\": \"t\", "
                           "\"fairness_key\": ";
  for (const std::string key : {"''", "repeat('k', 1025)", "repeat('é', 513)"}) {
    cases.push_back({push + "fairness_key => " + key + ")", k_bad, "fairness_key"});
    cases.push_back(
        {many + "fairness_keys => ARRAY['a', " + key + "])", k_bad, "fairness_keys[2]"});
    cases.push_back({many + "unique_keys => '{u,v}', fairness_keys => ARRAY['a', " + key + "])",
                     k_bad,
                     "fairness_keys[2]"});
    cases.push_back({json + "' || to_jsonb(" + key + "::text)::text || '}]')::jsonb)",
                     k_bad,
                     "element 2: fairness_key"});
  }
  cases.push_back({json + "7}]')::jsonb)", k_bad, "element 2: fairness_key"});
  cases.push_back({many + "fairness_keys => '{a}')", k_bad, "fairness_keys"});
  cases.push_back({many + "fairness_keys => '{{a},{b}}')", k_bad, "fairness_keys"});
  for (const std::string& name : k_bad_names) {
    cases.push_back({"SELECT pgtq.set_key_concurrency(" + name + ", 2)", k_bad, "queue"});
  }
  cases.push_back({"SELECT pgtq.set_key_concurrency(NULL, 2)", k_null, "queue"});
  for (const std::string limit : {"0", "-1", "100001"}) {
    cases.push_back({"SELECT pgtq.set_key_concurrency('q', " + limit + ")", k_bad, "max_running"});
  }
  for (const std::string& name : k_bad_names) {
    cases.push_back({"SELECT pgtq.set_key_weight(" + name + ", 'k', 2)", k_bad, "queue"});
  }
  cases.push_back({"SELECT pgtq.set_key_weight(NULL, 'k', 2)", k_null, "queue"});
  cases.push_back({"SELECT pgtq.set_key_weight('q', NULL, 2)", k_null, "fairness_key"});
  cases.push_back({"SELECT pgtq.set_key_weight('q', '', 2)", k_bad, "fairness_key"});
  cases.push_back({"SELECT pgtq.set_key_weight('q', repeat('k', 1025), 2)", k_bad, "fairness_key"});
  for (const std::string weight : {"0", "-1", "1001"}) {
    cases.push_back({"SELECT pgtq.set_key_weight('q', 'k', " + weight + ")", k_bad, "weight"});
  }
  const std::string key_rate = "SELECT pgtq.set_key_rate_limit(";
  for (const std::string& name : k_bad_names) {
    cases.push_back({key_rate + name + ", 2, '1 second')", k_bad, "queue"});
  }
  cases.push_back({key_rate + "NULL, 2, '1 second')", k_null, "queue"});
  for (const std::string limit : {"0", "-1", "1000001"}) {
    cases.push_back({key_rate + "'q', " + limit + ", '1 second')", k_bad, "max_starts"});
  }
  cases.push_back({key_rate + "'q', 2, NULL)", k_null, "per"});
  for (const std::string per : {"'0.5 seconds'", "'2 days'", "'-1 second'"}) {
    cases.push_back({key_rate + "'q', 2, " + per + ")", k_bad, "per"});
  }
}

void add_task_defaults_cases(std::vector<BadInput>& cases) {
  const std::string call = "SELECT pgtq.set_task_defaults(";
  for (const std::string& name : k_bad_names) {
    cases.push_back({call + name + ", 1, 1, NULL)", k_bad, "queue"});
  }
  cases.push_back({call + "NULL, 1, 1, NULL)", k_null, "queue"});
  for (const std::string priority : {"-32769", "32768"}) {
    cases.push_back({call + "'q', " + priority + ", 1, NULL)", k_bad, "priority"});
  }
  for (const std::string attempts : {"0", "1001", "-1"}) {
    cases.push_back({call + "'q', 0, " + attempts + ", NULL)", k_bad, "max_attempts"});
  }
  for (const std::string timeout : {"'0'", "'-1 second'", "'366 days'", "'1 month'"}) {
    cases.push_back({call + "'q', 0, 5, " + timeout + ")", k_bad, "timeout"});
  }
}

void add_retention_cases(std::vector<BadInput>& cases) {
  for (const std::string& name : k_bad_names) {
    cases.push_back({"SELECT pgtq.set_retention(" + name + ", 'failed', '1 day')", k_bad, "queue"});
    cases.push_back({"SELECT pgtq.reset_retention(" + name + ", 'failed')", k_bad, "queue"});
  }
  for (const std::string state : {"'queued'", "'running'", "'bogus'", "''", "'Failed'"}) {
    cases.push_back({"SELECT pgtq.set_retention('q', " + state + ", '1 day')", k_bad, "state"});
    cases.push_back({"SELECT pgtq.reset_retention('q', " + state + ")", k_bad, "state"});
  }
  for (const std::string keep : {"'-1 second'",
                                 "'101 years'",
                                 "'100 years 1 day'",
                                 "'1 mon -29 days'",
                                 "'1 day -1 hour'",
                                 "'178000000 years'",
                                 "'-1 day'"}) {
    cases.push_back({"SELECT pgtq.set_retention('q', 'failed', " + keep + ")", k_bad, "keep"});
    cases.push_back({"SELECT pgtq.set_retention(NULL, NULL, " + keep + ")", k_bad, "keep"});
  }
  cases.push_back({"SELECT pgtq.apply_retention(NULL)", k_null, "max_count"});
  cases.push_back({"SELECT pgtq.apply_retention(10, NULL)", k_null, "dry_run"});
  for (const std::string count : {"0", "-1", "100001"}) {
    cases.push_back({"SELECT pgtq.apply_retention(" + count + ")", k_bad, "max_count"});
  }
  cases.push_back({"SELECT pgtq.add_history_partitions(NULL, NULL)", k_null, "days"});
  for (const std::string days : {"0", "-1", "367"}) {
    cases.push_back({"SELECT pgtq.add_history_partitions(NULL, " + days + ")", k_bad, "days"});
  }
  cases.push_back({"SELECT pgtq.drop_history_partition(NULL, NULL)", k_null, "part"});
  for (const std::string table : {"'pgtq.retention'", "'pgtq.finished_tasks_default'"}) {
    cases.push_back({"SELECT pgtq.drop_history_partition(" + table + ", NULL)", k_bad, "part"});
  }
  cases.push_back(
      {"SELECT pgtq.add_history_partitions((now() AT TIME ZONE 'UTC')::date + 300, 100)",
       k_bad,
       "first_day + days"});
  for (const std::string day : {"'1999-12-31'", "'9999-01-02'", "'-infinity'"}) {
    cases.push_back({"SELECT pgtq.add_history_partitions(" + day + ", 1)", k_bad, "first_day"});
  }
}

void add_schedule_cases(std::vector<BadInput>& cases) {
  const std::string set = "SELECT pgtq.set_schedule(";
  for (const std::string& name : k_bad_names) {
    cases.push_back({set + name + ", 'q', 't', cron => '* * * * *')", k_bad, "schedule name"});
    cases.push_back({set + "'s', " + name + ", 't', cron => '* * * * *')", k_bad, "queue"});
    cases.push_back({"SELECT pgtq.pause_schedule(" + name + ")", k_bad, "schedule name"});
    cases.push_back({"SELECT pgtq.resume_schedule(" + name + ")", k_bad, "schedule name"});
    cases.push_back({"SELECT pgtq.delete_schedule(" + name + ")", k_bad, "schedule name"});
    cases.push_back({"SELECT pgtq.schedule_fire_times(" + name + ")", k_bad, "schedule name"});
    cases.push_back({"SELECT pgtq.register_schedule(" + name +
                         ", 'q', 't', NULL, '* * * * *', NULL, NULL, NULL)",
                     k_bad,
                     "schedule name"});
  }
  cases.push_back(
      {"SELECT pgtq.register_schedule('s', 'q', 't', NULL, '61 * * * *', NULL, NULL, NULL)",
       k_bad,
       "minute field"});
  cases.push_back(
      {"SELECT pgtq.register_schedule('s', 'q', 't', NULL, '* * * * *', NULL, NULL, 'some')",
       k_bad,
       "catch_up"});
  cases.push_back({set + "NULL, 'q', 't', cron => '* * * * *')", k_null, "schedule name"});
  cases.push_back({set + "'s', 'q', 't')", k_bad, "exactly one of cron and every"});
  cases.push_back(
      {set + "'s', 'q', 't', cron => '* * * * *', every => '1 minute')", k_bad, "exactly one"});
  for (const std::string cron : {"''",
                                 "'* * * *'",
                                 "'* * * * * * *'",
                                 "'60 * * * *'",
                                 "'* 24 * * *'",
                                 "'* * 0 * *'",
                                 "'* * 32 * *'",
                                 "'* * * 13 *'",
                                 "'* * * * 8'",
                                 "'*/0 * * * *'",
                                 "'5-1 * * * *'",
                                 "'L * * * *'",
                                 "'* * * * MON#2'",
                                 "'* * * FOO *'",
                                 "'@reboot'",
                                 "'0 0 30 2 *'"}) {
    cases.push_back({set + "'s', 'q', 't', cron => " + cron + ")", k_bad, "cron"});
    if (std::string(cron) != "'0 0 30 2 *'") {
      cases.push_back({"SELECT pgtq.cron_fire_times(" + std::string(cron) + ")", k_bad, "cron"});
    }
  }
  cases.push_back({"SELECT pgtq.cron_fire_times(NULL)", k_null, "cron"});
  for (const std::string every :
       {"'0'", "'0.5 seconds'", "'-1 minute'", "'1 month'", "'101 years'"}) {
    cases.push_back({set + "'s', 'q', 't', every => " + every + ")", k_bad, "every"});
  }
  for (const std::string zone : {"'Mars/Base'", "''", "'+25'"}) {
    cases.push_back({set + "'s', 'q', 't', cron => '* * * * *', time_zone => " + zone + ")",
                     k_bad,
                     "time_zone"});
    cases.push_back({"SELECT pgtq.cron_fire_times('* * * * *', " + std::string(zone) + ")",
                     k_bad,
                     "time_zone"});
  }
  cases.push_back(
      {set + "'s', 'q', 't', cron => '* * * * *', time_zone => NULL)", k_null, "time_zone"});
  for (const std::string policy : {"'some'", "''", "'ALL'"}) {
    cases.push_back({set + "'s', 'q', 't', cron => '* * * * *', catch_up => " + policy + ")",
                     k_bad,
                     "catch_up"});
  }
  cases.push_back(
      {set + "'s', 'q', 't', cron => '* * * * *', catch_up => NULL)", k_null, "catch_up"});
  for (const std::string within : {"'0'", "'-1 day'", "'101 years'"}) {
    cases.push_back({set + "'s', 'q', 't', cron => '* * * * *', catch_up_within => " + within + ")",
                     k_bad,
                     "catch_up_within"});
  }
  cases.push_back(
      {set + "'s', 'q', 't', cron => '* * * * *', priority => 40000)", k_bad, "priority"});
  cases.push_back(
      {set + "'s', 'q', 't', cron => '* * * * *', max_attempts => 0)", k_bad, "max_attempts"});
  cases.push_back({set + "'s', 'q', 't', cron => '* * * * *', timeout => '0')", k_bad, "timeout"});
  cases.push_back({set + "'s', 'q', 't', '\"x\"', cron => '* * * * *')", k_bad, "args"});
  for (const std::string count : {"0", "1001", "-1"}) {
    cases.push_back(
        {"SELECT pgtq.cron_fire_times('* * * * *', 'UTC', " + count + ")", k_bad, "count"});
    cases.push_back({"SELECT pgtq.schedule_fire_times('s', " + count + ")", k_bad, "count"});
  }
  cases.push_back(
      {"SELECT pgtq.cron_fire_times('* * * * *', 'UTC', 5, 'infinity')", k_bad, "after"});
  cases.push_back({"SELECT pgtq.schedule_fire_times('s', 5, NULL)", k_null, "after"});
}

// Tags and metadata at push (02_names_and_limits.sql).
void add_tag_cases(std::vector<BadInput>& cases) {
  const std::string push = "SELECT pgtq.push('q', 't', ";
  cases.push_back({push + "tags => ARRAY['a', NULL])", k_null, "tags"});
  cases.push_back({push + "tags => ARRAY[''])", k_bad, "tags"});
  cases.push_back({push + "tags => ARRAY[repeat('x', 129)])", k_bad, "tags"});
  cases.push_back({push + "tags => ARRAY[['a'], ['b']])", k_bad, "tags"});
  cases.push_back(
      {push + "tags => ARRAY(SELECT 't' || g FROM generate_series(1, 33) g))", k_limit, "tags"});
  cases.push_back({push + "metadata => '[1]')", k_bad, "metadata"});
  cases.push_back({push + "metadata => '\"x\"')", k_bad, "metadata"});
  cases.push_back({push + "metadata => 'null')", k_bad, "metadata"});
  cases.push_back(
      {push + "metadata => jsonb_build_object('k', repeat('x', 70000)))", k_limit, "metadata"});
  const std::string many = "SELECT pgtq.push_many('q', ";
  cases.push_back({many + R"('[{"task": "t", "tags": "a"}]'))", k_bad, "tags"});
  cases.push_back({many + R"('[{"task": "t", "tags": [1]}]'))", k_bad, "tags"});
  cases.push_back({many + R"('[{"task": "t", "tags": [""]}]'))", k_bad, "tags"});
  cases.push_back({many + R"('[{"task": "t", "metadata": [1]}]'))", k_bad, "metadata"});
  cases.push_back({many + R"('[{"task": "t", "metadata": "m"}]'))", k_bad, "metadata"});
  const std::string arrays = many + "ARRAY['t'], ARRAY['[]'::jsonb], ";
  cases.push_back({arrays + R"(tags => ARRAY['"a"'::jsonb]))", k_bad, "tags[1]"});
  cases.push_back({arrays + R"(tags => ARRAY['[""]'::jsonb]))", k_bad, "tags[1]"});
  cases.push_back({arrays + R"(tags => ARRAY['[null]'::jsonb]))", k_bad, "tags[1]"});
  cases.push_back({arrays + "tags => ARRAY['[]'::jsonb, '[]'::jsonb])", k_bad, "tags"});
  cases.push_back({arrays + "metadata => ARRAY['1'::jsonb])", k_bad, "metadata[1]"});
  cases.push_back({arrays + "metadata => ARRAY['{}'::jsonb, '{}'::jsonb])", k_bad, "metadata"});
  cases.push_back(
      {arrays + "unique_keys => ARRAY['k'], tags => ARRAY['[1]'::jsonb])", k_bad, "tags[1]"});
}

// Dependencies at push (20_dependencies.sql).
void add_dependency_cases(std::vector<BadInput>& cases) {
  const std::string push = "SELECT pgtq.push('q', 't', ";
  cases.push_back({push + "depends_on => ARRAY[{id}, NULL])", k_null, "depends_on[2]"});
  cases.push_back({push + "depends_on => ARRAY[[{id}], [{id}]])", k_bad, "depends_on"});
  cases.push_back({push + "depends_on => ARRAY[{id}, 987654321])", "23503", "987654321"});
  cases.push_back({push + "depends_on => ARRAY(SELECT generate_series(1, 10001)::bigint))",
                   k_limit,
                   "depends_on"});
  cases.push_back({push + "depends_on => ARRAY[{id}], on_parent_failure => NULL)",
                   k_null,
                   "on_parent_failure"});
  cases.push_back({push + "depends_on => ARRAY[{id}], on_parent_failure => 'ignore')",
                   k_bad,
                   "on_parent_failure"});
  cases.push_back({push + "depends_on => ARRAY[{id}], unique_key => 'k', on_conflict => 'replace')",
                   k_bad,
                   "depends_on"});
  const std::string many = "SELECT pgtq.push_many('q', ";
  cases.push_back(
      {many + R"('[{"task": "t", "depends_on": 5}]'))", k_bad, "element 1: depends_on"});
  cases.push_back({many + R"('[{"task": "t", "depends_on": ["5"]}]'))", k_bad, "depends_on"});
  cases.push_back({many + R"('[{"task": "t", "depends_on": [1.5]}]'))", k_bad, "depends_on"});
  cases.push_back({many + R"('[{"task": "t"}, {"task": "t", "depends_on": [987654321]}]'))",
                   "23503",
                   "element 2: depends_on"});
  cases.push_back({many + R"('[{"task": "t", "depends_on": [{id}], "on_parent_failure": "x"}]'))",
                   k_bad,
                   "on_parent_failure"});
  cases.push_back({many + R"('[{"task": "t", "depends_on": [{id}], "on_parent_failure": 1}]'))",
                   k_bad,
                   "on_parent_failure"});
  cases.push_back({many + R"('[{"task": "t", "depends_on": null, "on_parent_failure": "x"}]'))",
                   k_bad,
                   "on_parent_failure"});
  cases.push_back({push + "on_parent_failure => 'bogus')", k_bad, "on_parent_failure"});
  cases.push_back({push + "on_parent_failure => NULL)", k_null, "on_parent_failure"});
  const std::string arrays = many + "ARRAY['t', 't'], ARRAY['[]'::jsonb, '[]'::jsonb], ";
  cases.push_back(
      {arrays + "depends_on => ARRAY[NULL, '[987654321]'::jsonb])", "23503", "depends_on[2]"});
  cases.push_back(
      {arrays + "depends_on => ARRAY[NULL, '[\"1\"]'::jsonb])", k_bad, "depends_on[2]"});
  cases.push_back({arrays + "depends_on => ARRAY['[{id}]'::jsonb])", k_bad, "depends_on"});
  cases.push_back(
      {arrays + "on_parent_failure => ARRAY[NULL, 'x'])", k_bad, "element 2: on_parent_failure"});
  // A follow-up the database refuses names the task whose follow-ups it is, and records
  // nothing: the outcome neither.
  cases.push_back(
      {"SELECT pgtq.finish_many(ARRAY[{id}::bigint], ARRAY[{claim}::bigint], '{done}',"
       " '{null}', '{NULL}', '{0}', followups => ARRAY['[{\"task\": \"a b\"}]'::jsonb])",
       k_bad,
       "follow-ups of task"});
  cases.push_back({"SELECT pgtq.finish_many(ARRAY[{id}::bigint], ARRAY[{claim}::bigint], '{done}',"
                   " '{null}', '{NULL}', '{0}', followups => ARRAY['{}'::jsonb])",
                   k_bad,
                   "followups[1]"});
  cases.push_back({"SELECT pgtq.report({id}, {claim}, progress => jsonb_build_array(repeat('x',"
                   " 70000)))",
                   k_limit,
                   "progress"});
}

// Waiting for a task to end (19_task_waits.sql).
void add_task_wait_cases(std::vector<BadInput>& cases) {
  cases.push_back({"SELECT pgtq.watch_task(NULL)", k_null, "id"});
  cases.push_back({"SELECT pgtq.task_status(NULL)", k_null, "id"});
  cases.push_back({"SELECT pgtq.wait(NULL)", k_null, "id"});
  cases.push_back({"SELECT pgtq.wait({id}, NULL)", k_null, "timeout"});
  for (const char* timeout : {"'-1 second'", "'61 minutes'", "'1 day'", "'1 month'"}) {
    cases.push_back({"SELECT pgtq.wait({id}, " + std::string(timeout) + ")", k_bad, "timeout"});
  }
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// Everything a call could change: the tasks, the registrations and the id sequence.
std::string digest(db::Connection& conn) {
  return test::scalar(
      conn,
      "SELECT md5(coalesce((SELECT string_agg(t::text, '|' ORDER BY id) FROM pgtq.live_tasks t), "
      "'')"
      " || coalesce((SELECT string_agg(f::text, '|' ORDER BY id) FROM pgtq.finished_tasks f), '')"
      " || coalesce((SELECT string_agg(w::text, '|' ORDER BY queue, pid) FROM pgtq.idle_workers w),"
      " '')"
      " || coalesce((SELECT string_agg(s::text, '|' ORDER BY pid) FROM pgtq.waiting_schedulers s),"
      " '')"
      " || coalesce((SELECT string_agg(q::text, '|' ORDER BY queue) FROM pgtq.queues q), '')"
      " || coalesce((SELECT string_agg(w::text, '|' ORDER BY worker) FROM pgtq.workers w), '')"
      " || coalesce((SELECT string_agg(r::text, '|' ORDER BY queue, state) FROM pgtq.retention r),"
      " '')"
      " || coalesce((SELECT string_agg(s::text, '|' ORDER BY name) FROM pgtq.schedules s), '')"
      " || coalesce((SELECT string_agg(d::text, '|' ORDER BY name) FROM pgtq.deleted_schedules d),"
      " '')"
      " || coalesce((SELECT string_agg(w::text, '|' ORDER BY task_id, pid)"
      " FROM pgtq.task_waiters w), '')"
      " || coalesce((SELECT string_agg(d::text, '|' ORDER BY task_id, parent_id)"
      " FROM pgtq.task_dependencies d), '')"
      " || (SELECT last_value || ':' || is_called FROM pgtq.task_id_seq))");
}

} // namespace

TEST_CASE("every public SQL function refuses bad input with a named error and changes nothing") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();

  // Something in every state, and a running task whose real id and claim the cases quote.
  push(pg, "q", "waiting", 1);
  push(pg, "q", "later", json("[2]"), {.delay = std::chrono::hours(1)});
  push(pg, "q", "t", 3);
  const std::vector<ClaimedTask> running = pop(pg, "q", {"t"}, 1, "w");
  REQUIRE(running.size() == 1);
  push(pg, "q", "done", 4);
  const std::vector<ClaimedTask> finished = pop(pg, "q", {"done"}, 1, "w");
  REQUIRE(finished.size() == 1);
  REQUIRE(complete(pg, finished[0], "5"));

  std::vector<BadInput> cases;
  add_name_cases(cases);
  add_time_cases(cases);
  add_json_cases(cases);
  add_push_field_cases(cases);
  add_claim_cases(cases);
  add_array_cases(cases);
  add_outcome_cases(cases);
  add_outcome_array_cases(cases);
  add_push_array_cases(cases);
  add_maintenance_cases(cases);
  add_wake_up_cases(cases);
  add_redrive_cases(cases);
  add_unique_cases(cases);
  add_worker_registry_cases(cases);
  add_delete_all_cases(cases);
  add_retention_cases(cases);
  add_fairness_cases(cases);
  add_task_defaults_cases(cases);
  add_schedule_cases(cases);
  add_task_wait_cases(cases);
  add_tag_cases(cases);
  add_dependency_cases(cases);
  CHECK(cases.size() >= 300);
  MESSAGE(cases.size() << " bad inputs");

  std::string before = digest(conn);
  for (const BadInput& input : cases) {
    const std::string sql = replaced(replaced(input.sql, "{id}", std::to_string(running[0].id)),
                                     "{claim}",
                                     std::to_string(running[0].claim));
    CAPTURE(sql);
    db::Result result(PQexec(pg, sql.c_str()));
    const ExecStatusType status = PQresultStatus(result.get());
    REQUIRE_MESSAGE(status == PGRES_FATAL_ERROR, "accepted");
    const char* state = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
    const char* primary = PQresultErrorField(result.get(), PG_DIAG_MESSAGE_PRIMARY);
    const std::string message = primary == nullptr ? "" : primary;
    CHECK_MESSAGE(std::string(state == nullptr ? "" : state) == input.sqlstate, message);
    CHECK_MESSAGE(message.find(input.names) != std::string::npos, message);
    const std::string after = digest(conn);
    CHECK_MESSAGE(after == before, "data changed");
    before = after;
  }
}
