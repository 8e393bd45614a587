// pgtqctl's errors: one line with the SQLSTATE, the server's DETAIL and HINT, never the
// PL/pgSQL call stack; a hint to migrate when the schema is missing or behind; --version.
#include "db/migrations.hpp"
#include "support/ctl_process.hpp"
#include "support/sql.hpp"
#include "support/test_database.hpp"

#include <build_config.hpp>
#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace pgtq;
using namespace pgtq::test;

namespace {

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> found;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    found.push_back(text.substr(start, end - start));
    start = end == std::string::npos ? text.size() : end + 1;
  }
  return found;
}

const std::string k_migrate_hint = "run `pgtqctl migrate` first";

std::string schema_version() {
  return std::to_string(db::embedded_migrations().back().version);
}

} // namespace

TEST_CASE("pgtqctl prints an error raised deep in PL/pgSQL as one line with its SQLSTATE and "
          "DETAIL, without the call stack") {
  TestDatabase database;
  const std::vector<std::string> push{
      "push", "q", "t", "[]", "--unique-key", "k", "--on-conflict", "raise"};
  REQUIRE(pgtqctl(database.dsn(), push).exit_code == 0);
  // pgtq.push calls the function that raises: libpq's default would add the query, a CONTEXT
  // line per PL/pgSQL frame, and the statement's name.
  const Run refused = pgtqctl(database.dsn(), push);
  CHECK(refused.exit_code == 1);
  const std::vector<std::string> shown = lines(refused.output);
  REQUIRE_MESSAGE(shown.size() == 2, refused.output);
  CHECK_MESSAGE(shown[0].rfind("pgtqctl: ", 0) == 0, refused.output);
  CHECK(shown[0].find("unique key \"k\"") != std::string::npos);
  CHECK(shown[0].ends_with(" (SQLSTATE 23505)"));
  CHECK(shown[1] == "DETAIL: The task that holds the key is queued.");
  for (const char* noise : {"CONTEXT", "PL/pgSQL", "ERROR:", "pgtq_push", "LINE ", "QUERY:"}) {
    CAPTURE(noise);
    CHECK(refused.output.find(noise) == std::string::npos);
  }

  const Run bad_args = pgtqctl(database.dsn(), {"push", "q", "t", "5"});
  CHECK(bad_args.exit_code == 1);
  CHECK_MESSAGE(lines(bad_args.output).size() == 1, bad_args.output);
  CHECK(bad_args.output.ends_with(" (SQLSTATE 22023)\n"));
  CHECK(bad_args.output.find(k_migrate_hint) == std::string::npos);
}

TEST_CASE("pgtqctl on a database without the pgtq schema says to run migrate first") {
  EmptyDatabase database;
  for (const std::vector<std::string>& command :
       std::vector<std::vector<std::string>>{{"list"},
                                             {"stats"},
                                             {"show", "1"},
                                             {"push", "q", "t"},
                                             {"top", "--once"},
                                             {"cancel", "1"}}) {
    CAPTURE(command[0]);
    const Run run = pgtqctl(database.dsn(), command);
    CHECK(run.exit_code == 1);
    const std::vector<std::string> shown = lines(run.output);
    REQUIRE_MESSAGE(shown.size() == 2, run.output);
    CHECK_MESSAGE((shown[0].ends_with("(SQLSTATE 42P01)") ||
                   shown[0].ends_with("(SQLSTATE 3F000)") ||
                   shown[0].ends_with("(SQLSTATE 42883)")),
                  run.output);
    CHECK(shown[1] == "HINT: the database has no pgtq schema: " + k_migrate_hint);
  }
}

TEST_CASE("pgtqctl names the schema version when the database is behind, and gives no hint "
          "when it is current") {
  TestDatabase database;
  db::Connection conn = database.connect();
  query(conn, "DROP VIEW pgtq.tasks CASCADE");
  const Run current = pgtqctl(database.dsn(), {"list"});
  CHECK(current.exit_code == 1);
  CHECK_MESSAGE(current.output.find("(SQLSTATE 42P01)") != std::string::npos, current.output);
  CHECK(current.output.find(k_migrate_hint) == std::string::npos);

  query(conn, "DELETE FROM pgtq.schema_migrations WHERE version = $1::integer", {schema_version()});
  const Run behind = pgtqctl(database.dsn(), {"list"});
  CHECK(behind.exit_code == 1);
  const int known = db::embedded_migrations().back().version;
  CHECK_MESSAGE(behind.output.find("HINT: the database's pgtq schema is at version " +
                                   std::to_string(known - 1) + ", this pgtqctl needs " +
                                   std::to_string(known) + ": " + k_migrate_hint) !=
                    std::string::npos,
                behind.output);
}

TEST_CASE("pgtqctl --version prints its version and the schema version it needs") {
  const Run version = pgtqctl("", {"--version"});
  CHECK(version.exit_code == 0);
  CHECK(version.output == std::string("pgtqctl ") + build::k_version + " (pgtq schema version " +
                              schema_version() + ")\n");
  // The exit codes are documented where an operator looks.
  const Run help = pgtqctl("", {"--help"});
  CHECK(help.output.find("Exit status: 0 done; 1 ") != std::string::npos);
  CHECK(help.output.find("64 a bad argument") != std::string::npos);
}
