#include "coordinator/consumer_assignment.h"

#include <algorithm>
#include <numeric>
#include <utility>

namespace floe::coordinator {

namespace {

using partition_key = std::pair<topic_id, int32_t>;

// Subscribers (member indexes) of each assignable topic.
std::map<topic_id, std::vector<size_t>> subscribers_of(const std::vector<assignor_member>& members,
                                                       const std::map<topic_id, int32_t>& topics) {
    std::map<topic_id, std::vector<size_t>> out;
    for (size_t i = 0; i < members.size(); ++i) {
        for (const topic_id& t : members[i].subscribed) {
            auto it = topics.find(t);
            if (it != topics.end() && it->second > 0) {
                out[t].push_back(i);
            }
        }
    }
    return out;
}

std::map<std::string, partition_assignment> empty_result(
    const std::vector<assignor_member>& members) {
    std::map<std::string, partition_assignment> out;
    for (const auto& m : members) {
        out[m.member_id];
    }
    return out;
}

// Sticky and balanced. Three passes:
//   1. every member keeps the partitions of its previous target that still
//      exist and that it still subscribes to;
//   2. the other partitions, most constrained first (fewest subscribers),
//      go to their least loaded subscriber;
//   3. while a partition can move from its owner to a subscriber with at
//      least two partitions fewer, it moves. Each move lowers the sum of the
//      squared loads, so this ends; for members with the same subscriptions
//      it leaves loads that differ by at most one.
std::map<std::string, partition_assignment> assign_uniform(
    const std::vector<assignor_member>& members, const std::map<topic_id, int32_t>& topics) {
    auto subscribers = subscribers_of(members, topics);
    std::vector<size_t> load(members.size(), 0);
    std::map<partition_key, size_t> owner;

    for (size_t i = 0; i < members.size(); ++i) {
        for (const auto& [t, partitions] : members[i].current_target) {
            auto topic = topics.find(t);
            if (topic == topics.end() || members[i].subscribed.count(t) == 0) {
                continue;
            }
            for (int32_t p : partitions) {
                if (p >= 0 && p < topic->second && owner.emplace(partition_key{t, p}, i).second) {
                    ++load[i];
                }
            }
        }
    }

    std::vector<partition_key> unassigned;
    for (const auto& [t, subs] : subscribers) {
        for (int32_t p = 0; p < topics.at(t); ++p) {
            if (owner.count({t, p}) == 0) {
                unassigned.push_back({t, p});
            }
        }
    }
    std::stable_sort(unassigned.begin(), unassigned.end(),
                     [&](const partition_key& a, const partition_key& b) {
                         return subscribers.at(a.first).size() < subscribers.at(b.first).size();
                     });
    auto least_loaded = [&](const std::vector<size_t>& candidates) {
        size_t best = candidates.front();
        for (size_t c : candidates) {
            if (load[c] < load[best]) {
                best = c;
            }
        }
        return best;
    };
    for (const auto& key : unassigned) {
        size_t m = least_loaded(subscribers.at(key.first));
        owner[key] = m;
        ++load[m];
    }

    bool moved = true;
    while (moved) {
        moved = false;
        for (auto& [key, m] : owner) {
            size_t best = least_loaded(subscribers.at(key.first));
            if (load[best] + 1 < load[m]) {
                --load[m];
                ++load[best];
                m = best;
                moved = true;
            }
        }
    }

    auto out = empty_result(members);
    for (const auto& [key, m] : owner) {
        out[members[m].member_id][key.first].insert(key.second);
    }
    return out;
}

std::map<std::string, partition_assignment> assign_range(
    const std::vector<assignor_member>& members, const std::map<topic_id, int32_t>& topics) {
    auto out = empty_result(members);
    for (auto& [t, subs] : subscribers_of(members, topics)) {
        std::sort(subs.begin(), subs.end(),
                  [&](size_t a, size_t b) { return members[a].member_id < members[b].member_id; });
        int32_t count = topics.at(t);
        auto n = static_cast<int32_t>(subs.size());
        int32_t per_member = count / n;
        int32_t extra = count % n;
        int32_t next = 0;
        for (int32_t i = 0; i < n; ++i) {
            int32_t length = per_member + (i < extra ? 1 : 0);
            auto& mine = out[members[subs[static_cast<size_t>(i)]].member_id];
            for (int32_t p = next; p < next + length; ++p) {
                mine[t].insert(p);
            }
            next += length;
        }
    }
    return out;
}

member_assignment_state next_assignment(const member_assignment_state& current, int32_t epoch,
                                        const partition_assignment& assigned,
                                        const partition_assignment& target, int32_t target_epoch,
                                        const owned_elsewhere_fn& owned_elsewhere) {
    partition_assignment keep;
    partition_assignment revoke;
    partition_assignment to_assign;
    bool unreleased = false;
    std::set<topic_id> all_topics;
    for (const auto& [t, ps] : target) {
        all_topics.insert(t);
    }
    for (const auto& [t, ps] : assigned) {
        all_topics.insert(t);
    }
    static const std::set<int32_t> none;
    for (const topic_id& t : all_topics) {
        auto target_it = target.find(t);
        auto assigned_it = assigned.find(t);
        const auto& wanted = target_it != target.end() ? target_it->second : none;
        const auto& had = assigned_it != assigned.end() ? assigned_it->second : none;
        for (int32_t p : had) {
            (wanted.count(p) > 0 ? keep : revoke)[t].insert(p);
        }
        for (int32_t p : wanted) {
            if (had.count(p) > 0) {
                continue;
            }
            if (owned_elsewhere && owned_elsewhere(t, p)) {
                unreleased = true;
            } else {
                to_assign[t].insert(p);
            }
        }
    }

    member_assignment_state next = current;
    auto set_epoch = [&](int32_t e) {
        if (e != next.member_epoch) {
            next.previous_member_epoch = next.member_epoch;
            next.member_epoch = e;
        }
    };
    if (!revoke.empty()) {
        // Revocation first: the member stays at its epoch until it confirms.
        set_epoch(epoch);
        next.state = member_state::unrevoked_partitions;
        next.assigned = std::move(keep);
        next.pending_revocation = std::move(revoke);
        return next;
    }
    for (auto& [t, ps] : to_assign) {
        keep[t].insert(ps.begin(), ps.end());
    }
    set_epoch(target_epoch);
    next.state = unreleased ? member_state::unreleased_partitions : member_state::stable;
    next.assigned = std::move(keep);
    next.pending_revocation.clear();
    return next;
}

}  // namespace

bool is_known_assignor(std::string_view name) {
    return name == k_uniform_assignor || name == k_range_assignor;
}

std::map<std::string, partition_assignment> compute_assignment(
    std::string_view assignor, const std::vector<assignor_member>& members,
    const std::map<topic_id, int32_t>& topics) {
    if (assignor == k_range_assignor) {
        return assign_range(members, topics);
    }
    return assign_uniform(members, topics);
}

member_assignment_state reconcile(const member_assignment_state& current,
                                  const partition_assignment& target, int32_t target_epoch,
                                  const std::optional<partition_assignment>& owned,
                                  const owned_elsewhere_fn& owned_elsewhere) {
    switch (current.state) {
        case member_state::stable:
            if (current.member_epoch == target_epoch) {
                return current;
            }
            return next_assignment(current, current.member_epoch, current.assigned, target,
                                   target_epoch, owned_elsewhere);
        case member_state::unrevoked_partitions: {
            if (!owned) {
                return current;
            }
            for (const auto& [t, ps] : *owned) {
                auto revoking = current.pending_revocation.find(t);
                if (revoking == current.pending_revocation.end()) {
                    continue;
                }
                for (int32_t p : ps) {
                    if (revoking->second.count(p) > 0) {
                        return current;  // still owns a revoked partition
                    }
                }
            }
            return next_assignment(current, current.member_epoch, current.assigned, target,
                                   target_epoch, owned_elsewhere);
        }
        case member_state::unreleased_partitions:
            return next_assignment(current, current.member_epoch, current.assigned, target,
                                   target_epoch, owned_elsewhere);
        case member_state::unknown:
            return next_assignment(current, target_epoch, {}, target, target_epoch,
                                   owned_elsewhere);
    }
    return current;
}

bool is_subset(const partition_assignment& a, const partition_assignment& b) {
    for (const auto& [t, ps] : a) {
        if (ps.empty()) {
            continue;
        }
        auto it = b.find(t);
        if (it == b.end() ||
            !std::includes(it->second.begin(), it->second.end(), ps.begin(), ps.end())) {
            return false;
        }
    }
    return true;
}

size_t partition_count(const partition_assignment& a) {
    size_t n = 0;
    for (const auto& [t, ps] : a) {
        n += ps.size();
    }
    return n;
}

}  // namespace floe::coordinator
