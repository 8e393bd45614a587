#pragma once

#include "support/sql.hpp"

#include <algorithm>
#include <string>

namespace pgtq::test {

// The table the ledger test plugin (tests/plugins/ledger) writes a row to per completed
// run, so that tests can count how often each task really ran.
inline void create_ledger(db::Connection& connection) {
  query(connection,
        "CREATE TABLE ledger (task_id bigint NOT NULL, attempt int NOT NULL, "
        "worker_pid int NOT NULL, at timestamptz NOT NULL DEFAULT now())");
}

// Pushes count `ledger` tasks with these args to queue "default", 500 per round trip; a
// delayed_share of them (0..1) gets a random delay of up to delay_s seconds, written in whole
// milliseconds (a float8's text form can be scientific notation, which interval refuses).
inline void push_ledger_tasks(db::Connection& connection,
                              int count,
                              const std::string& args,
                              double delayed_share = 0,
                              double delay_s = 0) {
  for (int pushed = 0; pushed < count; pushed += 500) {
    query(connection,
          "SELECT pgtq.push_many('default', (SELECT jsonb_agg(jsonb_build_object("
          "'task', 'ledger', 'args', $1::jsonb, 'delay', CASE WHEN random() < $3::float8 "
          "THEN round(random() * $4::float8 * 1000)::bigint || ' milliseconds' ELSE '0' END)) "
          "FROM generate_series(1, $2::int)))",
          {args,
           std::to_string(std::min(500, count - pushed)),
           std::to_string(delayed_share),
           std::to_string(delay_s)});
  }
}

inline long long unfinished(db::Connection& connection) {
  return count(connection, "SELECT count(*) FROM pgtq.live_tasks");
}

} // namespace pgtq::test
