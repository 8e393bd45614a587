#include "app/config.hpp"

#include "app/config_options.hpp"
#include "app/queue_list.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <system_error>

namespace pgtq::app {
namespace {

// "lease (set by /etc/pgtq/q.conf line 3)", or "lease (default)".
std::string named(const Config& config, const std::string& key) {
  const auto found = config.origins.find(key);
  return key + " (" + (found == config.origins.end() ? "default" : "from " + found->second) + ")";
}

} // namespace

Config::Config() {
  for (const OptionSpec& spec : option_table()) {
    if (!spec.default_value.empty()) {
      set_option(*this, spec, spec.default_value);
    }
  }
}

void Config::validate() const {
  if (queue.empty()) {
    throw ConfigError("queue is required: --queue, queue = in the config file, or PGTQ_QUEUE");
  }
  try {
    parse_queues(queue, shared_workers, queue_weights);
  } catch (const ConfigError& error) {
    throw ConfigError(named(*this, "queue-weights") + ": " + error.what());
  }
  if (heartbeat * 2 > lease) {
    throw ConfigError(named(*this, "heartbeat") + " must be at most half of " +
                      named(*this, "lease") +
                      ", so that one late heartbeat does not lose the lease");
  }
  if (backoff_cap < backoff_base) {
    throw ConfigError(named(*this, "backoff-cap") + " must be at least " +
                      named(*this, "backoff-base"));
  }
  if (!plugin_config_dir.empty()) {
    struct stat status {};
    if (::stat(plugin_config_dir.c_str(), &status) != 0) {
      throw ConfigError(named(*this, "plugin-config-dir") + ": " + plugin_config_dir + ": " +
                        std::system_category().message(errno));
    }
    if (!S_ISDIR(status.st_mode)) {
      throw ConfigError(named(*this, "plugin-config-dir") + ": " + plugin_config_dir +
                        " is not a directory");
    }
  }
}

} // namespace pgtq::app
