#include "kafka/protocol/errors.h"

namespace floe::kafka {

error_code to_kafka_error(const error& e) {
    switch (e.code) {
        case errc::ok:
            return error_code::none;
        case errc::corrupt:
        case errc::truncated:
            return error_code::corrupt_message;
        case errc::too_large:
            return error_code::message_too_large;
        case errc::unsupported:
            return error_code::unsupported_for_message_format;
        case errc::not_found:
            return error_code::unknown_topic_or_partition;
        case errc::conflict:
            return error_code::not_leader_or_follower;
        case errc::io:
            return error_code::kafka_storage_error;
        case errc::invalid_argument:
            return error_code::invalid_request;
    }
    return error_code::unknown_server_error;
}

}  // namespace floe::kafka
