#include "app/worker_main.hpp"

#include "app/logging.hpp"
#include "app/signals.hpp"
#include "plugin/plugin_loader.hpp"
#include "queue/log_context.hpp"
#include "queue/stop_page.hpp"
#include "queue/task_executor.hpp"
#include "queue/worker_service.hpp"
#include "queue/worker_socket.hpp"

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>

namespace pgtq::app {
namespace {

namespace worker = queue::worker;

constexpr int k_socket = 3; // queue/worker_process.cpp puts the worker's end here

// Names the process in ps and top: the thread name (15 bytes: "pgtqd: worker 3"), and the
// command line, written over argv's own bytes (what /proc/PID/cmdline shows), cut to fit.
void set_title(int argc, char** argv, const std::string& title) {
  ::prctl(PR_SET_NAME, title.substr(0, 15).c_str(), 0, 0, 0);
  char* begin = argv[0];
  char* end = argv[argc - 1] + std::strlen(argv[argc - 1]); // the arguments are contiguous
  const std::size_t room = static_cast<std::size_t>(end - begin);
  std::memset(begin, 0, room);
  std::memcpy(begin, title.data(), std::min(title.size(), room));
}

// The Hello pgtqd sends first, and the plugin copies that came with it.
worker::Hello read_hello(std::vector<plugin::UniqueFd>& fds) {
  worker::FrameReader reader;
  for (;;) {
    if (std::optional<worker::Message> message = reader.next()) {
      if (auto* hello = std::get_if<worker::Hello>(&*message)) {
        return std::move(*hello);
      }
      throw worker::ProtocolError(std::string("expected hello, got ") + worker::name_of(*message));
    }
    if (!worker::read_into(k_socket, reader, &fds)) {
      throw worker::ProtocolError("pgtqd closed the socket before its hello");
    }
  }
}

} // namespace

int worker_main(int argc, char** argv) {
  if (::fcntl(k_socket, F_SETFD, FD_CLOEXEC) != 0) {
    std::cerr << "pgtqd: --worker-process is started by pgtqd itself (isolation = process)\n";
    return 64;
  }
  // Ends with the pgtqd pool thread that started it, even if pgtqd is killed while a handler
  // here never returns (a pgtqd gone before this line closed the socket: read_hello() ends).
  ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  // pgtqd decides when its workers end (SIGTERM to the process group, a Ctrl-C in a terminal,
  // must not cut a drain short); it closes the socket or sends SIGKILL.
  std::signal(SIGTERM, SIG_IGN);
  std::signal(SIGINT, SIG_IGN);
  std::signal(SIGHUP, SIG_IGN);
  std::signal(SIGPIPE, SIG_IGN);
  install_crash_reporter(true);

  std::vector<plugin::UniqueFd> fds;
  worker::Hello hello;
  try {
    hello = read_hello(fds);
  } catch (const std::exception& error) {
    std::cerr << "pgtqd worker: " << error.what() << '\n';
    return 1;
  }
  const std::string number = std::to_string(hello.slot);
  set_title(argc, argv, "pgtqd: worker " + number + " (queue " + hello.queue + ")");
  queue::set_process_queue(hello.queue); // before the plugins start threads of their own
  setup_logging(hello.log_level, "worker " + number);

  auto refuse = [&](const std::string& why) {
    spdlog::error("{}", why);
    try {
      worker::send_frame(k_socket, worker::encode(worker::StartFailed{why}));
    } catch (const std::exception&) {
      // pgtqd is gone; the status says enough
    }
    spdlog::default_logger_raw()->flush();
    return 78;
  };
  if (hello.memory_limit_bytes > 0) {
    const rlimit limit{static_cast<rlim_t>(hello.memory_limit_bytes),
                       static_cast<rlim_t>(hello.memory_limit_bytes)};
    if (::setrlimit(RLIMIT_DATA, &limit) != 0) {
      const int error = errno;
      return refuse(std::string("cannot set worker-memory-limit (RLIMIT_DATA): ") +
                    std::strerror(error) +
                    (error == EPERM ? "; under the packaged systemd unit, allow the call with a "
                                      "drop-in (systemctl edit pgtqd@QUEUE): [Service] "
                                      "SystemCallFilter=setrlimit prlimit64"
                                    : ""));
    }
  }
  // The stop page first, then one copy per plugin name.
  if (fds.size() != hello.plugin_files.size() + 1) {
    return refuse("pgtqd sent " + std::to_string(hello.plugin_files.size()) + " plugin names but " +
                  std::to_string(fds.size()) + " descriptors (the stop page and the files)");
  }
  std::optional<queue::StopPage> stop_page;
  try {
    stop_page = queue::StopPage::map(std::move(fds[0]));
  } catch (const std::exception& error) {
    return refuse(std::string("cannot map the stop page: ") + error.what());
  }

  plugin::HandlerRegistry registry;
  // pgtqd checked the directory and loaded these very copies; whatever fails here fails the
  // worker, and pgtqd says why.
  plugin::PluginLoader loader(registry,
                              hello.backoff,
                              hello.plugin_config_dir,
                              {.check_permissions = false, .skip_failures = false});
  std::vector<plugin::PluginCopy> copies;
  for (std::size_t i = 0; i < hello.plugin_files.size(); ++i) {
    copies.push_back(plugin::PluginCopy{hello.plugin_files[i], std::move(fds[i + 1])});
  }
  try {
    loader.load_copies(std::move(copies));
  } catch (const std::exception& error) {
    return refuse(error.what());
  }
  try {
    worker::send_frame(k_socket, worker::encode(worker::Ready{registry.names()}));
  } catch (const std::exception& error) {
    spdlog::error("cannot tell pgtqd it is ready: {}", error.what());
    return 1;
  }

  const queue::TaskExecutor executor(registry);
  const int status = queue::serve_tasks(k_socket, executor, *stop_page, hello.memory_limit_bytes);
  loader.unload_all();
  spdlog::default_logger_raw()->flush();
  // The watcher thread may still block on the socket: end without running static
  // destructors under it.
  std::_Exit(status);
}

} // namespace pgtq::app
