/* Defines no pgtq_plugin_entry, only a misspelt one (which plugin.map hides as well).
 * pgtqd must refuse it. */
#include <pgtq/plugin.h>

PGTQ_VISIBLE const pgtq_plugin_info* pgtq_plugin_entry_v0(void);

PGTQ_VISIBLE const pgtq_plugin_info* pgtq_plugin_entry_v0(void) {
  return NULL;
}
