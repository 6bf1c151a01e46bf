// floe_config_docs [FILE]: writes docs/configuration.md as the settings table
// in config.cc produces it, to FILE or to stdout. app_config_test fails when
// the committed file differs.
#include <cstdio>
#include <fstream>
#include <string>

#include "app/config.h"

int main(int argc, char** argv) {
    std::string markdown = floe::app::configuration_markdown();
    if (argc < 2) {
        std::fwrite(markdown.data(), 1, markdown.size(), stdout);
        return 0;
    }
    std::ofstream out(argv[1], std::ios::binary | std::ios::trunc);
    out << markdown;
    out.close();
    if (!out) {
        std::fprintf(stderr, "floe_config_docs: cannot write %s\n", argv[1]);
        return 1;
    }
    return 0;
}
