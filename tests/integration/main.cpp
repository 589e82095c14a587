// Catch2's main for the real-kernel tests, plus a listener that counts failed assertions per test
// case so that the harness can print vajrad's log when (and only when) a test failed.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include "harness.h"

namespace {

struct FailureCounter : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;
  void testCaseStarting(const Catch::TestCaseInfo& info) override {
    vt::reset_test_failures();
    TestEventListenerBase::testCaseStarting(info);
  }
  bool assertionEnded(const Catch::AssertionStats& stats) override {
    if (!stats.assertionResult.isOk()) vt::note_assertion_failed();
    return TestEventListenerBase::assertionEnded(stats);
  }
};

}  // namespace

CATCH_REGISTER_LISTENER(FailureCounter)
