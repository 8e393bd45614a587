// sql/schema (the schema as it is now, the files a change edits first) and sql/migrations
// (the steps that take an existing database there) must describe the same schema: a database
// migrated from 0001 and one built from sql/schema have the same catalog. sql/README.md.
#include "db/migrator.hpp"
#include "support/sql.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace pgtq;
using pgtq::test::query;
using pgtq::test::scalar;

namespace {

const std::filesystem::path k_schema_dir =
    std::filesystem::path(PGTQ_TEST_SOURCE_DIR) / "sql" / "schema";

// Everything of schema pgtq that a migration can create or change, one line per object:
// kind, name, and its definition as the server prints it back (pg_get_functiondef,
// pg_get_constraintdef, pg_get_indexdef, pg_get_viewdef, ...), with owners, ACLs and comments.
// Columns are numbered in table order (row types depend on it), not by attnum, which
// dropped columns leave gaps in. schema_migrations is the migrator's ledger, not the schema;
// the history's daily partitions depend on the day (test_history_partitions.cpp checks them).
const char* const k_catalog = R"sql(
WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname = 'pgtq'),
rels AS (
  SELECT c.* FROM pg_class c WHERE c.relnamespace = (SELECT oid FROM ns)
     AND c.relname NOT IN ('schema_migrations', 'schema_migrations_pkey')
     -- The daily history partitions (and their indexes) are named after the day they were made.
     AND NOT (c.relispartition AND c.relname ~ '^finished_tasks_p[0-9]{8}'))
SELECT kind, name, detail FROM (
  SELECT 'schema' AS kind, n.nspname::text AS name,
         concat_ws(' | ', pg_get_userbyid(n.nspowner), n.nspacl::text,
                   obj_description(n.oid, 'pg_namespace')) AS detail
    FROM pg_namespace n WHERE n.oid = (SELECT oid FROM ns)
  UNION ALL
  SELECT 'relation', c.relname::text,
         concat_ws(' | ', c.relkind, c.relpersistence, pg_get_userbyid(c.relowner),
                   c.relacl::text, c.reloptions::text, am.amname,
                   obj_description(c.oid, 'pg_class'))
    FROM rels c LEFT JOIN pg_am am ON am.oid = c.relam
  UNION ALL
  SELECT 'column', c.relname || '.' || lpad(rank() OVER (PARTITION BY c.oid ORDER BY a.attnum)::text, 3, '0') || ' ' || a.attname,
         concat_ws(' | ', format_type(a.atttypid, a.atttypmod),
                   CASE WHEN a.attnotnull THEN 'not null' END,
                   pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated,
                   a.attstorage, a.attcompression, co.collname, a.attacl::text,
                   col_description(c.oid, a.attnum))
    FROM rels c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
    LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 100
   WHERE c.relkind IN ('r', 'v', 'p', 'm', 'f')
  UNION ALL
  SELECT 'constraint', c.relname || '.' || k.conname,
         concat_ws(' | ', k.contype, pg_get_constraintdef(k.oid, true), k.condeferrable::text,
                   obj_description(k.oid, 'pg_constraint'))
    FROM pg_constraint k JOIN rels c ON c.oid = k.conrelid
  UNION ALL
  SELECT 'index', i.relname, pg_get_indexdef(i.oid)
    FROM rels i WHERE i.relkind = 'i'
  UNION ALL
  SELECT 'sequence', c.relname,
         concat_ws(' | ', format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmax,
                   s.seqmin, s.seqcache, s.seqcycle,
                   (SELECT t.relname || '.' || a.attname FROM pg_depend d
                      JOIN pg_class t ON t.oid = d.refobjid
                      JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                     WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                       AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')))
    FROM rels c JOIN pg_sequence s ON s.seqrelid = c.oid
  UNION ALL
  SELECT 'view', c.relname, pg_get_viewdef(c.oid, true)
    FROM rels c WHERE c.relkind IN ('v', 'm')
  UNION ALL
  SELECT 'trigger', c.relname || '.' || t.tgname, pg_get_triggerdef(t.oid, true)
    FROM pg_trigger t JOIN rels c ON c.oid = t.tgrelid
  UNION ALL
  SELECT 'rule', c.relname || '.' || r.rulename, pg_get_ruledef(r.oid, true)
    FROM pg_rewrite r JOIN rels c ON c.oid = r.ev_class WHERE r.rulename <> '_RETURN'
  UNION ALL
  SELECT 'type', t.typname::text,
         concat_ws(' | ', t.typtype, pg_get_userbyid(t.typowner), t.typacl::text,
                   obj_description(t.oid, 'pg_type'),
                   (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
                      FROM pg_enum e WHERE e.enumtypid = t.oid))
    FROM pg_type t WHERE t.typnamespace = (SELECT oid FROM ns)
     AND t.typname NOT IN ('schema_migrations', '_schema_migrations')
  UNION ALL
  SELECT 'function', p.oid::regprocedure::text,
         concat_ws(E'\n', pg_get_userbyid(p.proowner), p.proacl::text,
                   obj_description(p.oid, 'pg_proc'), pg_get_functiondef(p.oid))
    FROM pg_proc p WHERE p.pronamespace = (SELECT oid FROM ns)
  UNION ALL
  SELECT 'dependency', pg_describe_object(d.classid, d.objid, d.objsubid),
         d.deptype::text || ' ' || pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid)
    FROM pg_depend d
   WHERE d.classid = 'pg_proc'::regclass
     AND d.objid IN (SELECT oid FROM pg_proc WHERE pronamespace = (SELECT oid FROM ns))
     AND d.refclassid <> 'pg_namespace'::regclass
) everything
ORDER BY kind, name, detail
)sql";

std::multiset<std::string> catalog(db::Connection& connection) {
  const db::Result result = query(connection, k_catalog);
  std::multiset<std::string> entries;
  for (int row = 0; row < result.rows(); ++row) {
    entries.insert(result.string(row, 0) + " " + result.string(row, 1) + ":\n" +
                   result.string(row, 2));
  }
  return entries;
}

// The files of sql/schema in load order: their names start with two digits.
std::vector<std::filesystem::path> schema_files() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(k_schema_dir)) {
    files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream file(path);
  REQUIRE_MESSAGE(file.good(), "cannot read " << path.string());
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

std::string difference(const std::multiset<std::string>& from,
                       const std::multiset<std::string>& to) {
  std::vector<std::string> only;
  std::set_difference(from.begin(), from.end(), to.begin(), to.end(), std::back_inserter(only));
  std::string text;
  for (const std::string& entry : only) {
    text += "---- " + entry + "\n";
  }
  return text;
}

// "NN_words.sql": two digits, an underscore, then lower-case letters and underscores.
bool is_schema_file_name(const std::string& name) {
  const std::string suffix = ".sql";
  if (name.size() <= 3 + suffix.size() || !name.ends_with(suffix)) {
    return false;
  }
  if (!std::isdigit(static_cast<unsigned char>(name[0])) ||
      !std::isdigit(static_cast<unsigned char>(name[1])) || name[2] != '_') {
    return false;
  }
  const std::string words = name.substr(3, name.size() - 3 - suffix.size());
  return std::all_of(
      words.begin(), words.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; });
}

} // namespace

TEST_CASE("sql/schema holds only numbered .sql files, loaded in name order") {
  const std::vector<std::filesystem::path> files = schema_files();
  REQUIRE(files.size() >= 2);
  for (const auto& file : files) {
    INFO(file.string());
    CHECK(is_schema_file_name(file.filename().string()));
  }
}

TEST_CASE("a database migrated from 0001 and one built from sql/schema have the same catalog") {
  test::EmptyDatabase migrated;
  db::Connection a = migrated.connect();
  db::Migrator().migrate(a);

  test::EmptyDatabase built;
  db::Connection b = built.connect();
  // As the migrator does: the schema exists, then everything runs in one transaction.
  std::string script = "BEGIN;\nCREATE SCHEMA pgtq;\n";
  for (const auto& file : schema_files()) {
    script += "-- " + file.filename().string() + "\n" + read_file(file) + "\n";
  }
  b.run_script(script + "COMMIT;\n");

  const std::multiset<std::string> from_migrations = catalog(a);
  const std::multiset<std::string> from_schema = catalog(b);
  // The query sees what it should: a catalog that lost a kind of object compares equal.
  for (const char* kind : {"function pgtq.finish_many(bigint[]",
                           "function pgtq.finished_row(",
                           "column live_tasks.018 claim",
                           "constraint live_tasks.live_tasks_claim",
                           "index live_tasks_claim",
                           "view tasks",
                           "sequence task_id_seq",
                           "type task_state",
                           "relation live_tasks",
                           "relation finished_tasks_default",
                           "schema pgtq"}) {
    INFO(kind);
    CHECK(std::any_of(from_migrations.begin(),
                      from_migrations.end(),
                      [&](const std::string& entry) { return entry.rfind(kind, 0) == 0; }));
  }
  CHECK(scalar(a, "SELECT count(*) FROM pg_proc WHERE pronamespace = 'pgtq'::regnamespace") ==
        scalar(b, "SELECT count(*) FROM pg_proc WHERE pronamespace = 'pgtq'::regnamespace"));

  INFO("only after the migrations (sql/schema lacks or differs):\n"
       << difference(from_migrations, from_schema));
  INFO("only after sql/schema (a migration lacks or differs):\n"
       << difference(from_schema, from_migrations));
  CHECK(from_migrations == from_schema);
}
