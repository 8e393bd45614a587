// packaging/completion/pgtqctl.bash against pgtqctl's own --help: a subcommand or option added
// to one and not the other fails here. The completion runs in bash too.
#include "support/ctl_process.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

using namespace pgtq::test;

namespace {

const std::string k_completion =
    std::string(PGTQ_TEST_SOURCE_DIR) + "/packaging/completion/pgtqctl.bash";

std::string read_completion() {
  std::ifstream file(k_completion);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

std::set<std::string> words(const std::string& text) {
  std::istringstream stream(text);
  std::set<std::string> found;
  for (std::string word; stream >> word;) {
    found.insert(word);
  }
  return found;
}

// The value of NAME="..." in the completion file.
std::set<std::string> variable(const std::string& file, const std::string& name) {
  std::smatch match;
  REQUIRE_MESSAGE(std::regex_search(file, match, std::regex(name + "=\"([^\"]*)\"")), name);
  return words(match[1]);
}

// The options of a subcommand in the completion file: `    NAME) echo "..." ;;`.
std::set<std::string> completion_options(const std::string& file, const std::string& command) {
  std::smatch match;
  const bool found =
      std::regex_search(file, match, std::regex("\n    " + command + "\\) echo \"([^\"]*)\" ;;"));
  CHECK_MESSAGE(found, "no options for " << command << " in " << k_completion);
  return found ? words(match[1]) : std::set<std::string>{};
}

struct HelpOptions {
  std::set<std::string> all;   // --name of each option line
  std::set<std::string> flags; // those without a value (no TEXT after the name)
};

// "  -h,--help    ..." and "  --queue TEXT   ...": the long names, and which take no value.
HelpOptions help_options(const std::string& help) {
  HelpOptions options;
  const std::regex line("\n  (?:-[a-zA-Z],)?(--[a-z-]+)( [A-Z]+)?");
  for (auto it = std::sregex_iterator(help.begin(), help.end(), line); it != std::sregex_iterator();
       ++it) {
    options.all.insert((*it)[1]);
    if (!(*it)[2].matched) {
      options.flags.insert((*it)[1]);
    }
  }
  return options;
}

std::set<std::string> help_subcommands(const std::string& help) {
  std::set<std::string> found;
  const std::size_t start = help.find("\nSubcommands:\n");
  REQUIRE(start != std::string::npos);
  std::istringstream lines(help.substr(start + 14));
  for (std::string text; std::getline(lines, text) && text.rfind("  ", 0) == 0;) {
    std::istringstream first(text);
    std::string name;
    first >> name;
    found.insert(name);
  }
  return found;
}

std::string bash_complete(const std::string& words_text) {
  const std::string command =
      "bash -c 'source \"$0\"; COMP_WORDS=(" + words_text +
      "); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _pgtqctl; echo \"${COMPREPLY[*]}\"' '" +
      k_completion + "' 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string output;
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) {
    output += buffer.data();
  }
  ::pclose(pipe);
  return output;
}

} // namespace

TEST_CASE("the bash completion lists every subcommand and option of pgtqctl --help, and no "
          "other") {
  const std::string file = read_completion();
  REQUIRE_MESSAGE(!file.empty(), k_completion);
  const std::string help = pgtqctl("", {"--help"}).output;
  const std::set<std::string> subcommands = help_subcommands(help);
  REQUIRE(subcommands.size() > 20);
  CHECK(variable(file, "_pgtqctl_commands") == subcommands);
  const HelpOptions global = help_options(help);
  CHECK(variable(file, "_pgtqctl_global_options") == global.all);

  std::set<std::string> flags = global.flags;
  for (const std::string& command : subcommands) {
    CAPTURE(command);
    const HelpOptions options = help_options(pgtqctl("", {command, "--help"}).output);
    CHECK(completion_options(file, command) == options.all);
    flags.insert(options.flags.begin(), options.flags.end());
  }
  // After a flag the next word is not its value: the completion must know which they are.
  CHECK(variable(file, "_pgtqctl_flags") == flags);
}

TEST_CASE("the bash completion completes subcommands, their options and known values") {
  CHECK(bash_complete("pgtqctl li") == "list\n");
  CHECK(bash_complete("pgtqctl --dsn x sh") == "show\n");
  CHECK(bash_complete("pgtqctl --ver") == "--version\n");
  CHECK(bash_complete("pgtqctl list --crea") == "--created-after --created-before\n");
  CHECK(bash_complete("pgtqctl top --") == "--help --interval --once --dsn\n");
  CHECK(bash_complete("pgtqctl list --state fa") == "failed\n");
  CHECK(bash_complete("pgtqctl list --queue \"\"") == "\n"); // a value to type
  CHECK(bash_complete("pgtqctl show 12 --j") == "--json\n");
}
