/* The plugin ABI is a header only (include/wharf_plugin.h); SwiftPM needs a source file per C target. */
#include "wharf_plugin.h"
