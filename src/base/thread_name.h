// Names the calling thread, as ps -L, top -H, perf and gdb show it.
//
//   set_thread_name("wal-io");
//
// Linux keeps at most 15 characters; a longer name is cut. Naming is best
// effort: a failure changes nothing else.
#pragma once

#include <string_view>

namespace floe {

void set_thread_name(std::string_view name);

}  // namespace floe
