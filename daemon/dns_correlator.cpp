#include "dns_correlator.h"

#include <cctype>

namespace vajra {
namespace {

// DNS names compare without regard to ASCII case (RFC 4343), and resolvers randomise it (0x20 bits).
std::string lower(const std::string& name) {
  std::string out = name;
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

DnsCorrelator::DnsCorrelator(size_t capacity, uint64_t expiry_ns) : capacity_(capacity), expiry_ns_(expiry_ns) {}

void DnsCorrelator::correlate(v1::Event& event) {
  v1::DnsEvent& dns = *event.mutable_dns();
  if (!dns.malformed().empty()) return;
  expire(event.ktime_ns());
  const Key key{event.process().pid(), dns.net_ns(), dns.id(), lower(dns.name()), dns.query_type()};
  if (!dns.response() && dns.sent()) {
    if (order_.size() >= capacity_) expire(UINT64_MAX);
    pending_[key] = Query{event.ktime_ns(), event.time_ns()};
    order_.emplace_back(event.ktime_ns(), key);
    return;
  }
  if (!dns.response() || dns.sent()) return;
  const auto found = pending_.find(key);
  if (found == pending_.end()) return;
  dns.set_matched_query(true);
  dns.set_query_time_ns(found->second.time_ns);
  if (event.ktime_ns() >= found->second.ktime_ns) dns.set_latency_ns(event.ktime_ns() - found->second.ktime_ns);
  pending_.erase(found);
}

// Forgets queries older than the expiry; with UINT64_MAX, the oldest one, to make room.
void DnsCorrelator::expire(uint64_t now_ktime_ns) {
  const bool make_room = now_ktime_ns == UINT64_MAX;
  while (!order_.empty()) {
    const auto& [ktime, key] = order_.front();
    const auto found = pending_.find(key);
    const bool current = found != pending_.end() && found->second.ktime_ns == ktime;
    // Records of different CPUs reach us slightly out of time order: a newer query is never expired.
    if (current && !make_room && (now_ktime_ns < ktime || now_ktime_ns - ktime < expiry_ns_)) return;
    if (current) pending_.erase(found);
    order_.pop_front();
    if (current && make_room) return;
  }
}

}  // namespace vajra
