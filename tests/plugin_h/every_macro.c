/*
 * Uses every macro of plugin.h, compiled as C99 and C11 with -Wall -Wextra -Werror
 * -pedantic (tests/plugin_h/CMakeLists.txt), so that the header stays plain, warning-free C.
 * The example at the top of plugin.h is compiled the same way, straight from the header.
 */
#include <pgtq/plugin.h>

/* A compile-time check that works in C99 too: a negative array size fails the build. */
#define EVERY_MACRO_CHECK(name, condition) typedef char every_macro_##name[(condition) ? 1 : -1]

/* ABI 1.2 covers each struct whole while PGTQ_ABI_MINOR is 2: a member appended without
 * bumping the minor (and marking it "since 1.3") fails here. */
#if PGTQ_ABI_MAJOR == 1u && PGTQ_ABI_MINOR == 2u
EVERY_MACRO_CHECK(host_api_is_1_2,
                  PGTQ_SIZE_THROUGH(pgtq_host_api, register_schedule) == sizeof(pgtq_host_api));
EVERY_MACRO_CHECK(info_is_1_0, PGTQ_PLUGIN_INFO_SIZE_1_0 == sizeof(pgtq_plugin_info));
EVERY_MACRO_CHECK(handler_is_1_1,
                  PGTQ_SIZE_THROUGH(pgtq_handler, timeout_s) == sizeof(pgtq_handler));
EVERY_MACRO_CHECK(schedule_is_1_2,
                  PGTQ_SIZE_THROUGH(pgtq_schedule, catch_up) == sizeof(pgtq_schedule));
#endif
/* ABI 1.2 only appended to pgtq_host_api: its 1.0 table stays a prefix. */
EVERY_MACRO_CHECK(host_api_1_0_prefix,
                  PGTQ_HOST_API_SIZE_1_0 < PGTQ_SIZE_THROUGH(pgtq_host_api, register_schedule));
/* ABI 1.1 only appended to pgtq_handler: its 1.0 members stay where they were. */
EVERY_MACRO_CHECK(handler_1_0_prefix,
                  PGTQ_SIZE_THROUGH(pgtq_handler, backoff_cap_s) <
                      PGTQ_SIZE_THROUGH(pgtq_handler, timeout_s));
EVERY_MACRO_CHECK(size_through_first,
                  PGTQ_SIZE_THROUGH(pgtq_host_api, struct_size) == sizeof(uint32_t));

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
_Static_assert(PGTQ_HOST_API_SIZE_1_0 <= sizeof(pgtq_host_api), "the 1.0 table is a prefix");
#endif

/* Counts the host functions a table has, asking PGTQ_HOST_HAS for each. */
int every_macro_host_functions(const pgtq_host_api* api);

int every_macro_host_functions(const pgtq_host_api* api) {
  return PGTQ_HOST_HAS(api, log) + PGTQ_HOST_HAS(api, register_handler) +
         PGTQ_HOST_HAS(api, task_args) + PGTQ_HOST_HAS(api, task_name) +
         PGTQ_HOST_HAS(api, task_id) + PGTQ_HOST_HAS(api, task_attempt) +
         PGTQ_HOST_HAS(api, task_set_result) + PGTQ_HOST_HAS(api, task_set_error) +
         PGTQ_HOST_HAS(api, task_set_retry_delay) + PGTQ_HOST_HAS(api, task_should_stop) +
         PGTQ_HOST_HAS(api, register_schedule);
}
