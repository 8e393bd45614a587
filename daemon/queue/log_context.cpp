#include "queue/log_context.hpp"

namespace pgtq::queue {
namespace {

thread_local std::string t_queue;
std::string g_process_queue; // written once, before other threads start

} // namespace

void set_thread_queue(std::string queue) {
  t_queue = std::move(queue);
}

void set_process_queue(std::string queue) {
  g_process_queue = std::move(queue);
}

const std::string& log_queue() {
  return t_queue.empty() ? g_process_queue : t_queue;
}

} // namespace pgtq::queue
