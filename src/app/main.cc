// floe: the broker's command-line entry point.
//
// Until the broker lands, `floe serve` validates its flags, reports what it
// would serve, and exits with a clear message.
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

namespace {

void print_help() {
    std::puts(
        "usage: floe <command> [options]\n"
        "\n"
        "commands:\n"
        "  serve      start a single-node broker\n"
        "  --help     show this help\n"
        "\n"
        "serve options:\n"
        "  --listen HOST:PORT   Kafka listener address (default 127.0.0.1:9092)\n"
        "  --data-dir PATH      WAL, objects and metadata directory (default ./floe-data)\n");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
        print_help();
        return argc < 2 ? 2 : 0;
    }
    std::string_view command = argv[1];
    if (command != "serve") {
        std::fprintf(stderr, "floe: unknown command '%s' (try --help)\n", argv[1]);
        return 2;
    }
    std::string listen = "127.0.0.1:9092";
    std::string data_dir = "./floe-data";
    for (int i = 2; i < argc; ++i) {
        std::string_view arg = argv[i];
        if ((arg == "--listen" || arg == "--data-dir") && i + 1 < argc) {
            (arg == "--listen" ? listen : data_dir) = argv[++i];
        } else if (arg == "--help") {
            print_help();
            return 0;
        } else {
            std::fprintf(stderr, "floe: unknown or incomplete option '%s'\n", argv[i]);
            return 2;
        }
    }
    std::fprintf(stderr,
                 "floe: the broker is not built yet; this build provides the Kafka protocol "
                 "codec only.\n"
                 "floe: would listen on %s with data under %s\n",
                 listen.c_str(), data_dir.c_str());
    return 1;
}
