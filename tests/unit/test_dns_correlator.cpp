// Query -> response pairing: same process, network namespace, id, name (any case) and type.
#include <catch2/catch.hpp>

#include <string>

#include "dns_correlator.h"

using namespace vajra;

namespace {

constexpr uint64_t kSecond = 1'000'000'000ull;

v1::Event dns(bool response, bool sent, uint32_t pid, uint32_t id, const std::string& name, uint64_t ktime,
              uint32_t net_ns = 1, uint32_t type = 1) {
  v1::Event event;
  event.set_kind(v1::EVENT_KIND_DNS);
  event.set_ktime_ns(ktime);
  event.set_time_ns(ktime + 1000 * kSecond);
  event.mutable_process()->set_pid(pid);
  v1::DnsEvent& d = *event.mutable_dns();
  d.set_response(response);
  d.set_sent(sent);
  d.set_id(id);
  d.set_name(name);
  d.set_net_ns(net_ns);
  d.set_query_type(type);
  return event;
}

v1::Event query(uint32_t pid, uint32_t id, const std::string& name, uint64_t ktime, uint32_t net_ns = 1,
                uint32_t type = 1) {
  return dns(false, true, pid, id, name, ktime, net_ns, type);
}

v1::Event response(uint32_t pid, uint32_t id, const std::string& name, uint64_t ktime, uint32_t net_ns = 1,
                   uint32_t type = 1) {
  return dns(true, false, pid, id, name, ktime, net_ns, type);
}

}  // namespace

TEST_CASE("dns correlator: a response gets its query's time and the latency") {
  DnsCorrelator correlator(16, 30 * kSecond);
  v1::Event q = query(7, 0x1234, "Vajra.Test", 10 * kSecond);
  correlator.correlate(q);
  CHECK(correlator.pending() == 1);
  CHECK_FALSE(q.dns().matched_query());

  v1::Event r = response(7, 0x1234, "vajra.TEST", 10 * kSecond + 2500);
  correlator.correlate(r);
  CHECK(r.dns().matched_query());
  CHECK(r.dns().query_time_ns() == q.time_ns());
  CHECK(r.dns().latency_ns() == 2500);
  CHECK(correlator.pending() == 0);

  v1::Event again = response(7, 0x1234, "vajra.test", 11 * kSecond);  // a duplicate answer
  correlator.correlate(again);
  CHECK_FALSE(again.dns().matched_query());
}

TEST_CASE("dns correlator: another process, namespace, id, name or type is another query") {
  DnsCorrelator correlator(16, 30 * kSecond);
  v1::Event q = query(7, 1, "a.test", kSecond);
  correlator.correlate(q);
  for (v1::Event r : {response(8, 1, "a.test", 2 * kSecond), response(7, 1, "a.test", 2 * kSecond, 2),
                      response(7, 2, "a.test", 2 * kSecond), response(7, 1, "b.test", 2 * kSecond),
                      response(7, 1, "a.test", 2 * kSecond, 1, 28)}) {
    correlator.correlate(r);
    CHECK_FALSE(r.dns().matched_query());
  }
  CHECK(correlator.pending() == 1);
}

TEST_CASE("dns correlator: unanswered queries expire, and the pending set is bounded") {
  DnsCorrelator correlator(4, 30 * kSecond);
  v1::Event old = query(7, 1, "old.test", kSecond);
  correlator.correlate(old);
  v1::Event later = query(7, 2, "later.test", 40 * kSecond);
  correlator.correlate(later);
  CHECK(correlator.pending() == 1);  // old.test expired
  v1::Event r = response(7, 1, "old.test", 41 * kSecond);
  correlator.correlate(r);
  CHECK_FALSE(r.dns().matched_query());

  for (uint32_t id = 10; id < 20; ++id) {
    v1::Event q = query(7, id, "many.test", 41 * kSecond);
    correlator.correlate(q);
  }
  CHECK(correlator.pending() <= 4);
  v1::Event newest = response(7, 19, "many.test", 42 * kSecond);
  correlator.correlate(newest);
  CHECK(newest.dns().matched_query());
}

TEST_CASE("dns correlator: malformed messages and received queries are left alone") {
  DnsCorrelator correlator(16, 30 * kSecond);
  v1::Event bad = query(7, 1, "", kSecond);
  bad.mutable_dns()->set_malformed("too short");
  correlator.correlate(bad);
  v1::Event received_query = dns(false, false, 7, 1, "a.test", kSecond);
  correlator.correlate(received_query);
  CHECK(correlator.pending() == 0);
}
