// Asio's non-template implementation, compiled once for the whole program
// (ASIO_SEPARATE_COMPILATION is set for every target that links
// floe::kafka_server), which keeps it out of every other translation unit.
#include <asio/impl/src.hpp>
