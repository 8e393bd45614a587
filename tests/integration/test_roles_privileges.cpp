// The database roles (sql/schema/22_roles.sql): each role tries every pgtq operation and
// every direct read and write of a table; what a role may not do fails with 42501 and what
// it may do succeeds. The expectations are the table below, which docs/operations.md
// ("Roles") shows as well: a test compares the two.
#include "support/role_logins.hpp"
#include "support/sql.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>
#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace pgtq;
using namespace pgtq::test;

namespace {

// Columns of an expectation: pgtq_pusher, pgtq_reader, pgtq_worker, pgtq_operator,
// pgtq_admin; x may, . may not. A login without any of them may do nothing.
constexpr std::size_t k_role_count = 5;

struct Operation {
  std::string name; // as docs/operations.md names it
  std::string sql;  // {Q} a queued task's id, {F} a failed one's, {R} {T} a running one's id
                    // and claim token
  std::string allowed;
};

// Every public function of pgtq, called with arguments it accepts.
const std::vector<Operation>& function_operations() {
  static const std::vector<Operation> operations = {
      {"push", "SELECT pgtq.push('q', 't')", "x...x"},
      {"push_many (JSON)", "SELECT pgtq.push_many('q', '[{\"task\": \"t\"}]')", "x...x"},
      {"push_many (arrays)", "SELECT pgtq.push_many('q', ARRAY['t'], ARRAY['[]'::jsonb])", "x...x"},
      {"task_status", "SELECT * FROM pgtq.task_status({Q})", "xxxxx"},
      {"wait", "SELECT * FROM pgtq.wait({F}, '10 milliseconds')", "xxxxx"},
      {"watch_task", "SELECT pgtq.watch_task({Q})", "xxxxx"},
      {"unwatch_task", "SELECT pgtq.unwatch_task({Q})", "xxxxx"},
      {"task_parents", "SELECT pgtq.task_parents({Q})", ".xxxx"},
      {"backoff", "SELECT pgtq.backoff(3)", ".xxxx"},
      {"cron_fire_times", "SELECT pgtq.cron_fire_times('0 * * * *')", ".xxxx"},
      {"schedule_fire_times", "SELECT pgtq.schedule_fire_times('hourly')", ".xxxx"},
      {"next_due", "SELECT pgtq.next_due()", ".xxxx"},
      {"next_rate_room", "SELECT pgtq.next_rate_room()", ".xxxx"},
      {"keep_ok", "SELECT pgtq.keep_ok('1 day')", ".xxxx"},
      {"claim", "SELECT * FROM pgtq.claim('q', '{t}', 1, 'w')", "..x.x"},
      {"pop", "SELECT * FROM pgtq.pop('q', '{t}', 1, 'w')", "..x.x"},
      {"heartbeat", "SELECT * FROM pgtq.heartbeat(ARRAY[{R}], ARRAY[{T}])", "..x.x"},
      {"complete", "SELECT pgtq.complete({R}, {T}, '{}')", "..x.x"},
      {"fail", "SELECT pgtq.fail({R}, {T}, 'no')", "..x.x"},
      {"snooze", "SELECT pgtq.snooze({R}, {T}, '1 minute')", "..x.x"},
      {"finish_many (arrays)",
       "SELECT pgtq.finish_many(ARRAY[{R}], ARRAY[{T}], '{done}', '{null}', '{null}', '{null}')",
       "..x.x"},
      {"finish_many (JSON)",
       "SELECT pgtq.finish_many(jsonb_build_array(jsonb_build_object('id', {R}, 'claim', "
       "({T})::bigint, 'status', 'done')))",
       "..x.x"},
      {"release", "SELECT pgtq.release(ARRAY[{R}], ARRAY[{T}])", "..x.x"},
      {"report (one)", "SELECT pgtq.report({R}, {T}, '{\"done\": 1}')", "..x.x"},
      {"report (arrays)",
       "SELECT pgtq.report(ARRAY[{R}], ARRAY[{T}], '{null}', '{null}')",
       "..x.x"},
      {"tick", "SELECT * FROM pgtq.tick(100)", "..x.x"},
      {"apply_retention", "SELECT pgtq.apply_retention(100)", "..x.x"},
      {"worker_idle", "SELECT pgtq.worker_idle('q', 'w')", "..x.x"},
      {"worker_busy", "SELECT pgtq.worker_busy('w')", "..x.x"},
      {"pushes_in_flight", "SELECT pgtq.pushes_in_flight('q')", "..x.x"},
      {"scheduler_waiting", "SELECT pgtq.scheduler_waiting('s', '1 second')", "..x.x"},
      {"delayed_pushes_in_flight", "SELECT pgtq.delayed_pushes_in_flight('{}')", "..x.x"},
      {"worker_seen",
       "SELECT pgtq.worker_seen('w', 'q', 'h', 1, '1', 1, 'thread', '5 seconds', now())",
       "..x.x"},
      {"worker_stopped", "SELECT pgtq.worker_stopped('w', 'q')", "..x.x"},
      {"sweep_gone_workers", "SELECT pgtq.sweep_gone_workers()", "..x.x"},
      {"register_schedule",
       "SELECT pgtq.register_schedule('daily', 'q', 't', '[]', NULL, '1 day', 'UTC', 'latest')",
       "..x.x"},
      {"retry", "SELECT pgtq.retry({F})", "...xx"},
      {"retry_all", "SELECT pgtq.retry_all(queue => 'q')", "...xx"},
      {"cancel", "SELECT pgtq.cancel({Q})", "...xx"},
      {"cancel_all", "SELECT pgtq.cancel_all(queue => 'q')", "...xx"},
      {"delete", "SELECT pgtq.delete({F})", "...xx"},
      {"delete_all", "SELECT pgtq.delete_all('{failed}')", "...xx"},
      {"pause", "SELECT pgtq.pause('q')", "...xx"},
      {"resume", "SELECT pgtq.resume('q')", "...xx"},
      {"pause_schedule", "SELECT pgtq.pause_schedule('hourly')", "...xx"},
      {"resume_schedule", "SELECT pgtq.resume_schedule('hourly')", "...xx"},
      {"update", "SELECT pgtq.update({Q}, priority => 5)", "....x"},
      {"set_global_concurrency", "SELECT pgtq.set_global_concurrency('q', 5)", "....x"},
      {"set_rate_limit", "SELECT pgtq.set_rate_limit('q', 5, '1 second')", "....x"},
      {"set_task_defaults", "SELECT pgtq.set_task_defaults('q', 1, 2, NULL)", "....x"},
      {"reset_queue", "SELECT pgtq.reset_queue('q')", "....x"},
      {"set_retention", "SELECT pgtq.set_retention('q', 'failed', '1 day')", "....x"},
      {"reset_retention", "SELECT pgtq.reset_retention('q', 'failed')", "....x"},
      {"set_key_concurrency", "SELECT pgtq.set_key_concurrency('q', 2)", "....x"},
      {"set_key_rate_limit", "SELECT pgtq.set_key_rate_limit('q', 2, '1 second')", "....x"},
      {"set_key_weight", "SELECT pgtq.set_key_weight('q', 'k', 2)", "....x"},
      {"add_history_partitions", "SELECT pgtq.add_history_partitions(current_date, 1)", "....x"},
      {"drop_history_partition",
       "SELECT pgtq.drop_history_partition(i.inhrelid::regclass, now()) FROM pg_inherits i"
       " WHERE i.inhparent = 'pgtq.finished_tasks'::regclass"
       " AND i.inhrelid <> 'pgtq.finished_tasks_default'::regclass LIMIT 1",
       "....x"},
      {"set_schedule", "SELECT pgtq.set_schedule('weekly', 'q', 't', every => '7 days')", "....x"},
      {"delete_schedule", "SELECT pgtq.delete_schedule('hourly')", "....x"},
      {"fire_schedules", "SELECT pgtq.fire_schedules(10)", "....x"},
      {"prune", "SELECT pgtq.prune(now() - interval '1 day')", "....x"},
      {"wake_queue", "SELECT pgtq.wake_queue('q')", "....x"},
      {"wake_schedulers", "SELECT pgtq.wake_schedulers(now())", "....x"},
      {"notify_ended", "SELECT pgtq.notify_ended(ARRAY[{F}])", "....x"},
      {"tasks_ended", "SELECT pgtq.tasks_ended(ARRAY[{F}])", "....x"},
      {"set_claim_queues", "SELECT pgtq.set_claim_queues(current_user, NULL)", "....x"},
  };
  return operations;
}

const std::vector<std::string>& tables() {
  static const std::vector<std::string> names = {"live_tasks",
                                                 "finished_tasks",
                                                 "idle_workers",
                                                 "waiting_schedulers",
                                                 "queues",
                                                 "fairness_cursors",
                                                 "fairness_weights",
                                                 "key_rate_windows",
                                                 "workers",
                                                 "retention",
                                                 "schedules",
                                                 "deleted_schedules",
                                                 "task_waiters",
                                                 "task_dependencies",
                                                 "unsettled_ends",
                                                 "claim_queues"};
  return names;
}

const std::vector<std::string>& views() {
  static const std::vector<std::string> names = {
      "tasks", "live_workers", "unhandled_tasks", "queue_stats", "queue_minutes"};
  return names;
}

// Reads and writes of every table straight through SQL, and the task id sequence.
std::vector<Operation> table_operations() {
  std::vector<Operation> operations;
  for (const std::string& table : tables()) {
    const std::string name = "pgtq." + table;
    operations.push_back(
        {"SELECT from any table or view", "SELECT {C} FROM " + name + " LIMIT 1", ".xxxx"});
    operations.push_back({"INSERT into any table",
                          "INSERT INTO " + name + " SELECT * FROM " + name + " WHERE false",
                          "....x"});
    operations.push_back(
        {"UPDATE any table", "UPDATE " + name + " SET {C} = {C} WHERE false", "....x"});
    operations.push_back(
        {"DELETE from any table", "DELETE FROM " + name + " WHERE false", "....x"});
    operations.push_back({"TRUNCATE any table", "TRUNCATE " + name, "....."});
  }
  for (const std::string& view : views()) {
    operations.push_back(
        {"SELECT from any table or view", "SELECT * FROM pgtq." + view + " LIMIT 1", ".xxxx"});
  }
  operations.push_back(
      {"SELECT from any table or view", "SELECT * FROM pgtq.schema_migrations LIMIT 1", ".xxxx"});
  // A worker limited to some queues (pgtq.set_claim_queues) must not read the tokens that
  // would let it record outcomes of tasks in others.
  operations.push_back({"SELECT the claim tokens (pgtq.live_tasks.claim)",
                        "SELECT claim FROM pgtq.live_tasks LIMIT 1",
                        "....x"});
  operations.push_back({"INSERT into pgtq.schema_migrations (the migrator's ledger)",
                        "INSERT INTO pgtq.schema_migrations VALUES (999, 'x')",
                        "....."});
  operations.push_back({"nextval pgtq.task_id_seq", "SELECT nextval('pgtq.task_id_seq')", "....x"});
  operations.push_back(
      {"setval pgtq.task_id_seq", "SELECT setval('pgtq.task_id_seq', 1000000000)", "....x"});
  return operations;
}

std::vector<Operation> all_operations() {
  std::vector<Operation> operations = function_operations();
  for (Operation& operation : table_operations()) {
    operations.push_back(std::move(operation));
  }
  return operations;
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// The SQLSTATE a statement ends with, "" when it succeeds. Always rolled back.
std::string outcome(db::Connection& connection, const std::string& sql) {
  PQclear(PQexec(connection.native(), "BEGIN"));
  PGresult* result = PQexec(connection.native(), sql.c_str());
  const ExecStatusType status = PQresultStatus(result);
  std::string sqlstate;
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    const char* field = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    sqlstate = field != nullptr ? field : "?";
    sqlstate += std::string(" ") + PQresultErrorMessage(result);
  }
  PQclear(result);
  PQclear(PQexec(connection.native(), "ROLLBACK"));
  return sqlstate;
}

// The expectations as docs/operations.md shows them: a Markdown table, a row per name (the
// statements on each table share one).
std::string markdown(const std::vector<Operation>& operations) {
  std::ostringstream out;
  std::vector<std::string> shown;
  out << "| operation | pgtq_pusher | pgtq_reader | pgtq_worker | pgtq_operator | pgtq_admin |\n"
      << "|---|:-:|:-:|:-:|:-:|:-:|\n";
  for (const Operation& operation : operations) {
    if (std::find(shown.begin(), shown.end(), operation.name) != shown.end()) {
      continue;
    }
    shown.push_back(operation.name);
    // A function's name in code type: the first word, when it is lower case.
    const std::size_t word = operation.name.find(' ');
    if (std::islower(static_cast<unsigned char>(operation.name[0])) != 0) {
      out << "| `" << operation.name.substr(0, word) << '`'
          << (word == std::string::npos ? "" : operation.name.substr(word)) << " |";
    } else {
      out << "| " << operation.name << " |";
    }
    for (const char mark : operation.allowed) {
      out << (mark == 'x' ? " yes |" : " |");
    }
    out << '\n';
  }
  return out.str();
}

} // namespace

TEST_CASE("each role may do what docs/operations.md says, and everything else fails with 42501") {
  TestDatabase database;
  db::Connection owner = database.connect();
  // A queued task, a failed one, a running one with its claim token, and a schedule.
  const std::string queued = scalar(owner, "SELECT pgtq.push('q', 't')");
  const std::string failed = scalar(owner, "SELECT pgtq.push('f', 't', max_attempts => 1)");
  query(owner,
        "WITH c AS (SELECT * FROM pgtq.claim('f', '{t}', 1, 'w'))"
        " SELECT pgtq.fail(c.id, c.claim, 'no') FROM c");
  REQUIRE(scalar(owner, "SELECT state FROM pgtq.tasks WHERE id = $1::bigint", {failed}) ==
          "failed");
  query(owner, "SELECT pgtq.push('r', 't')");
  const db::Result running = query(owner, "SELECT id, claim FROM pgtq.claim('r', '{t}', 1, 'w')");
  REQUIRE(running.rows() == 1);
  query(owner, "SELECT pgtq.set_schedule('hourly', 'q', 't', every => '1 hour')");

  RoleLogins logins(
      database, {"pgtq_pusher", "pgtq_reader", "pgtq_worker", "pgtq_operator", "pgtq_admin", ""});
  for (const Operation& operation : all_operations()) {
    std::string sql = replace_all(operation.sql, "{Q}", queued);
    sql = replace_all(sql, "{F}", failed);
    sql = replace_all(sql, "{R}", running.string(0, 0));
    sql = replace_all(sql, "{T}", running.string(0, 1));
    if (sql.find("{C}") != std::string::npos) {
      // UPDATE pgtq.x SET ... or SELECT {C} FROM pgtq.x ...
      const std::size_t at = sql.find("pgtq.");
      const std::string table = sql.substr(at, sql.find(' ', at) - at);
      sql = replace_all(sql,
                        "{C}",
                        scalar(owner,
                               "SELECT quote_ident(attname) FROM pg_attribute"
                               " WHERE attrelid = $1::regclass AND attnum = 1",
                               {table}));
    }
    for (std::size_t role = 0; role <= k_role_count; ++role) {
      const bool allowed = role < k_role_count && operation.allowed[role] == 'x';
      const std::string ended = outcome(logins.connection(role), sql);
      INFO(operation.name, " as ", logins.role_name(role), ": ", sql, " -> ", ended);
      if (allowed) {
        CHECK(ended.empty());
      } else {
        CHECK(ended.rfind("42501", 0) == 0);
      }
    }
  }
  // Nothing above changed anything: each statement was rolled back.
  CHECK(scalar(owner, "SELECT count(*) FROM pgtq.live_tasks") == "2");
}

TEST_CASE("docs/operations.md shows the table of roles and operations that the roles test holds") {
  std::ifstream file(std::string(PGTQ_TEST_SOURCE_DIR) + "/docs/operations.md");
  std::stringstream docs;
  docs << file.rdbuf();
  const std::vector<Operation> operations = all_operations();
  // A row stands for all the statements of its name: they must expect the same.
  for (const Operation& operation : operations) {
    for (const Operation& other : operations) {
      CHECK_MESSAGE((operation.name != other.name || operation.allowed == other.allowed),
                    operation.name);
    }
  }
  const std::string expected = markdown(operations);
  INFO("docs/operations.md should hold this table:\n", expected);
  CHECK(docs.str().find(expected) != std::string::npos);
}

TEST_CASE("every public function runs as its owner and only pgtq's roles may execute it") {
  TestDatabase database;
  db::Connection owner = database.connect();
  // Public: it has a COMMENT (its \df+ documentation). Helpers have none.
  CHECK(scalar(owner,
               "SELECT string_agg(p.oid::regprocedure::text, ', ') FROM pg_proc p"
               " WHERE p.pronamespace = 'pgtq'::regnamespace"
               " AND (obj_description(p.oid, 'pg_proc') IS NOT NULL) <> p.prosecdef") == "");
  // PUBLIC executes nothing; a role of pgtq's executes only public functions; every public
  // function is some role's, and pgtq_admin's.
  CHECK(scalar(owner,
               "SELECT string_agg(p.oid::regprocedure::text, ', ') FROM pg_proc p"
               " WHERE p.pronamespace = 'pgtq'::regnamespace"
               " AND has_function_privilege('public', p.oid, 'EXECUTE')") == "");
  CHECK(scalar(owner,
               "SELECT string_agg(p.oid::regprocedure::text || ' ' || r.rolname, ', ')"
               " FROM pg_proc p, pg_roles r"
               " WHERE p.pronamespace = 'pgtq'::regnamespace AND r.rolname LIKE 'pgtq\\_%'"
               " AND has_function_privilege(r.oid, p.oid, 'EXECUTE') AND NOT p.prosecdef") == "");
  CHECK(scalar(owner,
               "SELECT string_agg(p.oid::regprocedure::text, ', ') FROM pg_proc p"
               " WHERE p.pronamespace = 'pgtq'::regnamespace AND p.prosecdef"
               " AND NOT has_function_privilege('pgtq_admin', p.oid, 'EXECUTE')") == "");
  // Every table and view (not a history partition) is readable by pgtq_reader (live_tasks but
  // its claim tokens).
  CHECK(scalar(owner,
               "SELECT string_agg(c.oid::regclass::text, ', ') FROM pg_class c"
               " WHERE c.relnamespace = 'pgtq'::regnamespace AND c.relkind IN ('r', 'p', 'v')"
               " AND NOT c.relispartition"
               " AND NOT has_any_column_privilege('pgtq_reader', c.oid, 'SELECT')") == "");
  // The list of tables above is every table.
  CHECK(scalar(owner,
               "SELECT count(*) FROM pg_class c WHERE c.relnamespace = 'pgtq'::regnamespace"
               " AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
               " AND c.relname <> 'schema_migrations'") == std::to_string(tables().size()));
}
