// pgtq_push_example: pushes a few tasks from an application's point of view.
//
//   pgtq_push_example [--dsn DSN] [--queue QUEUE]
//
// Everything happens inside one transaction of the program's own connection, the way an
// application enqueues work together with its own writes: no worker sees any of the tasks
// until COMMIT, and if anything fails before it, none of them exist.
#include <pgtq/client.hpp>

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

struct Options {
  std::string dsn; // empty: the PG* environment variables
  std::string queue = "default";
};

void print_usage(std::FILE* out) {
  std::fputs("usage: pgtq_push_example [--dsn DSN] [--queue QUEUE]\n"
             "Pushes add_numbers [2,3], an echo task and a small bulk in one transaction.\n"
             "DSN is a libpq conninfo; without it the PG* environment variables apply.\n",
             out);
}

// Returns false (after printing why) when the arguments make no sense.
bool parse_arguments(int argc, char** argv, Options& options, bool& wants_help) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    std::string* target = nullptr;
    std::string_view name;
    if (arg == "-h" || arg == "--help") {
      wants_help = true;
      return true;
    }
    for (const auto& [flag, field] : {std::pair{std::string_view("--dsn"), &options.dsn},
                                      std::pair{std::string_view("--queue"), &options.queue}}) {
      if (arg == flag || (arg.size() > flag.size() && arg.substr(0, flag.size()) == flag &&
                          arg[flag.size()] == '=')) {
        target = field;
        name = flag;
      }
    }
    if (target == nullptr) {
      std::fprintf(stderr, "pgtq_push_example: unknown argument \"%s\"\n", argv[i]);
      return false;
    }
    if (arg.size() > name.size()) {
      *target = std::string(arg.substr(name.size() + 1));
    } else if (i + 1 < argc) {
      *target = argv[++i];
    } else {
      std::fprintf(stderr, "pgtq_push_example: %s needs a value\n", argv[i]);
      return false;
    }
  }
  return true;
}

using Connection = std::unique_ptr<PGconn, decltype(&PQfinish)>;
using Result = std::unique_ptr<PGresult, decltype(&PQclear)>;

// BEGIN and COMMIT are the application's business, not the client header's.
void run_command(PGconn* conn, const char* command) {
  const Result result(PQexec(conn, command), &PQclear);
  if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
    throw std::runtime_error(std::string(command) + ": " + PQerrorMessage(conn));
  }
}

void print_ids(const char* what, const std::vector<std::int64_t>& ids) {
  std::printf("%-34s task", what);
  if (ids.size() > 1) {
    std::printf("s");
  }
  for (const std::int64_t id : ids) {
    std::printf(" %lld", static_cast<long long>(id));
  }
  std::printf("\n");
}

} // namespace

int main(int argc, char** argv) {
  Options options;
  bool wants_help = false;
  if (!parse_arguments(argc, argv, options, wants_help)) {
    print_usage(stderr);
    return 2;
  }
  if (wants_help) {
    print_usage(stdout);
    return 0;
  }

  try {
    const Connection conn(PQconnectdb(options.dsn.c_str()), &PQfinish);
    if (PQstatus(conn.get()) != CONNECTION_OK) {
      std::fprintf(stderr, "pgtq_push_example: cannot connect: %s", PQerrorMessage(conn.get()));
      return 1;
    }
    PGconn* pg = conn.get();
    const std::string& queue = options.queue;

    run_command(pg, "BEGIN");
    // The typed form: the values become the JSON array [2,3].
    print_ids("add_numbers [2,3]", {pgtq::push(pg, queue, "add_numbers", 2, 3)});
    // JSON text of your own is the args document when wrapped in pgtq::json(), which checks
    // it; a plain string is one string argument: push(pg, queue, "echo", "hi") is ["hi"].
    print_ids(R"(echo {"message":"hello"})",
              {pgtq::push(
                  pg, queue, "echo", pgtq::json(R"({"message":"hello","from":"push_example"})"))});
    // One round trip for many tasks, ids in the order given.
    const std::vector<pgtq::TaskSpec> bulk{
        {"add_numbers", pgtq::args(1, 1)},
        {"add_numbers", pgtq::args(20, 22)},
        {"echo", pgtq::to_json(std::map<std::string, std::string>{{"message", "from the bulk"}})},
        {"echo",
         pgtq::json(R"({"message":"three seconds later"})"),
         {.delay = std::chrono::seconds(3)}},
    };
    print_ids("bulk of 4 (the last one delayed)", pgtq::push_many(pg, queue, bulk));
    run_command(pg, "COMMIT");
    std::printf("committed to queue \"%s\"\n", queue.c_str());
    return 0;
  } catch (const pgtq::Error& error) {
    // Leaving without COMMIT: closing the connection rolls everything back.
    std::fprintf(
        stderr, "pgtq_push_example: %s (SQLSTATE %s)\n", error.what(), error.sqlstate().c_str());
  } catch (const std::exception& error) {
    std::fprintf(stderr, "pgtq_push_example: %s\n", error.what());
  }
  return 1;
}
