#include "kafka/broker/group_service.h"

#include <asio/post.hpp>
#include <chrono>
#include <future>

#include "base/log.h"
#include "base/thread_name.h"
#include "kafka/broker/broker.h"

namespace floe::kafka {

namespace {

coordinator::time_point wall_clock_now() {
    return std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

// Decodes one UTF-8 sequence at s[i], advancing i; invalid input yields
// U+FFFD for one byte, as Java's decoder replaces it.
uint32_t next_code_point(std::string_view s, size_t& i) {
    const auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
    const uint8_t lead = byte(i);
    size_t length = lead < 0x80           ? 1
                    : (lead >> 5) == 0x6  ? 2
                    : (lead >> 4) == 0xE  ? 3
                    : (lead >> 3) == 0x1E ? 4
                                          : 0;
    if (length == 0 || i + length > s.size()) {
        ++i;
        return 0xFFFD;
    }
    uint32_t cp = length == 1 ? lead : lead & (0x7F >> length);
    for (size_t k = 1; k < length; ++k) {
        if ((byte(i + k) & 0xC0) != 0x80) {
            ++i;
            return 0xFFFD;
        }
        cp = (cp << 6) | (byte(i + k) & 0x3F);
    }
    i += length;
    return cp;
}

}  // namespace

int32_t java_string_hash(std::string_view s) {
    uint32_t h = 0;  // Java's int arithmetic wraps; unsigned does the same
    for (size_t i = 0; i < s.size();) {
        uint32_t cp = next_code_point(s, i);
        if (cp > 0xFFFF) {
            cp -= 0x10000;
            h = 31 * h + (0xD800 + (cp >> 10));
            h = 31 * h + (0xDC00 + (cp & 0x3FF));
        } else {
            h = 31 * h + cp;
        }
    }
    return static_cast<int32_t>(h);
}

group_service::group_service(broker& owner, group_service_options options)
    : _owner(owner), _options(std::move(options)), _context(std::make_shared<asio::io_context>()) {}

group_service::~group_service() {
    stop();
}

status group_service::start() {
    _work = std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(
        _context->get_executor());
    _thread = std::thread([context = _context] {
        set_thread_name("groups");
        context->run();
    });
    if (_owner.topics().find(k_offsets_topic)) {
        return load_shards();
    }
    return ok();
}

void group_service::stop() {
    if (_stopped.exchange(true)) {
        return;
    }
    _ready.store(false, std::memory_order_release);
    _work.reset();
    _context->stop();
    if (_thread.joinable()) {
        _thread.join();
    }
    // The thread is gone: the shards are destroyed here, abandoning their
    // waiting answers (whose coroutines resume with an error).
    _shards.clear();
}

bool group_service::ensure_ready() {
    if (ready()) {
        return true;
    }
    if (_stopped.load() || _creating.exchange(true)) {
        return false;
    }
    asio::post(_owner.pool().executor(), [this] { create_offsets_topic(); });
    return false;
}

void group_service::create_offsets_topic() {
    if (_stopped.load()) {
        return;
    }
    if (!_owner.topics().find(k_offsets_topic)) {
        // Offsets are kept until the coordinator deletes them (retention of
        // committed offsets is the coordinator's, by commit time), never by
        // the topic's own retention.
        auto created = _owner.create_topic(k_offsets_topic, _options.offsets_partitions,
                                           {{"retention.ms", "-1"}, {"retention.bytes", "-1"}});
        if (!created && created.error_value().code != errc::conflict) {
            FLOE_LOG(error, "groups", "creating ", k_offsets_topic, ": ",
                     created.error_value().to_string());
            _creating.store(false);
            return;
        }
    }
    status loaded = load_shards();
    if (!loaded) {
        FLOE_LOG(error, "groups", "loading ", k_offsets_topic, ": ",
                 loaded.error_value().to_string());
        _creating.store(false);
    }
}

status group_service::load_shards() {
    auto parts = _owner.partitions_of(k_offsets_topic);
    if (parts.empty()) {
        return error(errc::not_found, std::string(k_offsets_topic) + " has no partitions");
    }
    const auto started = std::chrono::steady_clock::now();
    std::vector<shard> built;
    size_t records = 0;
    for (const auto& p : parts) {
        shard s;
        s.log_partition = p;
        std::weak_ptr<asio::io_context> context = _context;
        auto to_coordinator = [context](std::function<void()> fn) {
            if (auto c = context.lock()) {
                asio::post(*c, std::move(fn));
            }
        };
        auto to_pool = [pool = _owner.pool().executor()](std::function<void()> fn) {
            asio::post(pool, std::move(fn));
        };
        s.log = std::make_unique<group_log>(p, to_coordinator, to_pool, _options.log);
        // What consumer groups (KIP-848) assign: the topics in the registry's
        // cache (in memory, no I/O on the coordinator thread).
        coordinator::topic_metadata_source topics;
        topics.lookup =
            [this](std::string_view name) -> std::optional<coordinator::topic_metadata> {
            auto topic = _owner.topics().find(name);
            if (!topic) {
                return std::nullopt;
            }
            return coordinator::topic_metadata{topic->id,
                                               static_cast<int32_t>(topic->partitions.size())};
        };
        topics.list = [this] {
            std::vector<std::string> names;
            for (auto& topic : _owner.topics().list()) {
                if (topic.name != k_offsets_topic) {
                    names.push_back(std::move(topic.name));
                }
            }
            return names;
        };
        s.coordinator = std::make_unique<coordinator::group_coordinator>(
            _options.config, *s.log, &wall_clock_now, coordinator::member_id_generator{},
            std::move(topics));
        auto stored = group_log::read_all(*p);
        if (!stored) {
            return error(stored.error_value().code, "reading " + p->topic() + "-" +
                                                        std::to_string(p->index()) + ": " +
                                                        stored.error_value().message);
        }
        records += stored->size();
        s.log->loaded(*stored);
        FLOE_TRY(s.coordinator->replay(*stored));
        s.timer = std::make_unique<asio::system_timer>(*_context);
        built.push_back(std::move(s));
    }
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    // Hand the shards to the coordinator thread; they are served from when it
    // has them.
    std::promise<void> handed;
    auto handed_future = handed.get_future();
    asio::post(*_context, [this, shards = std::move(built), &handed]() mutable {
        _shards = std::move(shards);
        _partition_count.store(static_cast<int32_t>(_shards.size()), std::memory_order_release);
        _ready.store(true, std::memory_order_release);
        arm_all();
        handed.set_value();
    });
    if (handed_future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
        return error(errc::io, "the coordinator thread did not take the loaded groups");
    }
    FLOE_LOG(info, "groups", "group coordinators ready: ", parts.size(), " partitions of ",
             k_offsets_topic, ", ", records, " records replayed in ", took.count(), " ms");
    return ok();
}

int32_t group_service::partition_for(std::string_view group_id) const {
    const int32_t count = partition_count() > 0 ? partition_count() : _options.offsets_partitions;
    return static_cast<int32_t>((static_cast<uint32_t>(java_string_hash(group_id)) & 0x7fffffffu) %
                                static_cast<uint32_t>(count));
}

group_service::shard* group_service::shard_for(std::string_view group_id) {
    if (_shards.empty()) {
        return nullptr;
    }
    return &_shards[static_cast<size_t>(partition_for(group_id))];
}

std::vector<coordinator::group_coordinator*> group_service::coordinators_locked() {
    std::vector<coordinator::group_coordinator*> out;
    out.reserve(_shards.size());
    for (auto& s : _shards) {
        out.push_back(s.coordinator.get());
    }
    return out;
}

void group_service::arm(shard& s) {
    auto deadline = s.coordinator->next_deadline();
    if (!deadline) {
        s.timer->cancel();
        return;
    }
    s.timer->expires_at(*deadline);
    s.timer->async_wait([this, &s](const std::error_code& ec) {
        if (ec) {
            return;  // re-armed or stopped
        }
        s.coordinator->tick();
        arm(s);
    });
}

void group_service::arm_all() {
    for (auto& s : _shards) {
        arm(s);
    }
}

}  // namespace floe::kafka
