// The hot path's statements are planned once per session (sql/migrations/0011,
// docs/architecture.md "Plans of the hot path"). A plan made while live_tasks was empty must
// still reach the table through an index once it holds thousands of rows: a cached plan that
// scans the table whole makes every claim, heartbeat and outcome cost the whole queue.
#include "support/sql.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace pgtq;
using pgtq::test::count;
using pgtq::test::query;
using pgtq::test::scalar;

namespace {

// Seq scans and index scans of live_tasks by this session in its open transaction.
long long seq_scans(db::Connection& conn) {
  return count(conn,
               "SELECT seq_scan FROM pg_stat_xact_user_tables"
               " WHERE relid = 'pgtq.live_tasks'::regclass");
}

long long index_scans(db::Connection& conn) {
  return count(conn,
               "SELECT idx_scan FROM pg_stat_xact_user_tables"
               " WHERE relid = 'pgtq.live_tasks'::regclass");
}

} // namespace

TEST_CASE("claim, heartbeat and finish_many reach live_tasks by index with plans made when it "
          "was empty") {
  test::TestDatabase database;
  db::Connection worker = database.connect();
  db::Connection producer = database.connect();
  // No analyze behind the test's back: it would make the plans anew with fresh statistics.
  query(producer, "ALTER TABLE pgtq.live_tasks SET (autovacuum_enabled = off)");
  query(producer, "VACUUM ANALYZE pgtq.live_tasks");

  // The worker's session plans its statements on the empty table; eight calls each, past
  // the five custom plans after which PostgreSQL's default may switch to a generic one.
  for (int i = 0; i < 8; ++i) {
    CHECK(count(worker, "SELECT count(*) FROM pgtq.claim('q', '{t}', 1, 'w')") == 0);
    CHECK(count(worker,
                "SELECT count(*) FROM pgtq.finish_many('{123456789}', '{1}', '{done}',"
                " '{NULL}', '{NULL}', '{NULL}')") == 1);
    CHECK(count(worker, "SELECT count(*) FROM pgtq.heartbeat('{123456789}', '{1}')") == 1);
  }

  query(producer, "SELECT count(pgtq.push('q', 't', '[]')) FROM generate_series(1, 5000)");

  query(worker, "BEGIN");
  query(worker,
        "CREATE TEMP TABLE claimed ON COMMIT DROP AS"
        " SELECT * FROM pgtq.claim('q', '{t}', 10, 'w')");
  CHECK(count(worker, "SELECT count(*) FROM claimed") == 10);
  CHECK(count(worker,
              "SELECT count(*) FROM pgtq.heartbeat(ARRAY(SELECT id FROM claimed),"
              " ARRAY(SELECT claim FROM claimed)) WHERE status = 'renewed'") == 10);
  CHECK(count(worker,
              "SELECT count(*) FROM pgtq.finish_many(ARRAY(SELECT id FROM claimed),"
              " ARRAY(SELECT claim FROM claimed), array_fill('done'::text, '{10}'),"
              " array_fill(NULL::jsonb, '{10}'), array_fill(NULL::text, '{10}'),"
              " array_fill(NULL::float8, '{10}'))") == 0);
  CHECK(seq_scans(worker) == 0);
  CHECK(index_scans(worker) > 0);
  query(worker, "COMMIT");
  CHECK(scalar(producer, "SELECT count(*) FROM pgtq.finished_tasks WHERE state = 'succeeded'") ==
        "10");
}

TEST_CASE("a claim that finds nothing changes nothing") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  query(conn, "SELECT pgtq.push('q', 't', '[]')");
  CHECK(count(conn, "SELECT count(*) FROM pgtq.claim('other', '{t}', 5, 'w')") == 0);
  CHECK(count(conn, "SELECT count(*) FROM pgtq.claim('q', '{other}', 5, 'w')") == 0);
  CHECK(scalar(conn, "SELECT state || '/' || attempts || '/' || claims FROM pgtq.live_tasks") ==
        "queued/0/0");
}
