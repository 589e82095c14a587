#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TSocket.h>

#include "thrift_server.h"

using namespace vajra::bridge;

namespace {

// A table of `rows` identical rows.
class FixedTable : public Table {
 public:
  explicit FixedTable(size_t rows) : rows_(rows) {}
  const std::string& name() const override { return name_; }
  const std::vector<Column>& columns() const override { return columns_; }
  Rows generate(const QueryContext&) override { return Rows(rows_, Row{{"value", std::string(100, 'v')}}); }

 private:
  const std::string name_ = "fixed";
  const std::vector<Column> columns_{{"value", ColumnType::kText}};
  size_t rows_;
};

std::string socket_path() {
  return (std::filesystem::temp_directory_path() / ("vajra-server-test-" + std::to_string(getpid()) + ".em.7")).string();
}

vajra::osquery::ExtensionResponse call(const std::string& path, const std::string& action) {
  auto socket = std::make_shared<apache::thrift::transport::TSocket>(path);
  auto transport = std::make_shared<apache::thrift::transport::TBufferedTransport>(socket);
  vajra::osquery::ExtensionClient client(std::make_shared<apache::thrift::protocol::TBinaryProtocol>(transport));
  transport->open();
  vajra::osquery::ExtensionResponse response;
  client.call(response, "table", "fixed", {{"action", action}, {"context", "{}"}});
  transport->close();
  return response;
}

}  // namespace

TEST_CASE("the server streams rows, refuses a reply too large for osquery, and answers shutdown", "[bridge][server]") {
  FixedTable small(10), large(100);
  const std::string path = socket_path();
  std::atomic<int> shutdowns{0};
  auto handler = std::make_shared<ExtensionHandler>(std::map<std::string, Table*>{{"fixed", &small}});
  handler->set_uuid(5);
  {
    ExtensionServer server(path, handler, [&] { ++shutdowns; }, 4000);
    struct stat st {};
    REQUIRE(stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    server.start();

    const auto fits = call(path, "generate");
    CHECK(fits.status.code == 0);
    CHECK(fits.response.size() == 10);
    CHECK(fits.response[0].at("value") == std::string(100, 'v'));
    CHECK(call(path, "columns").response == route_rows(small));

    auto socket = std::make_shared<apache::thrift::transport::TSocket>(path);
    auto transport = std::make_shared<apache::thrift::transport::TBufferedTransport>(socket);
    vajra::osquery::ExtensionClient client(std::make_shared<apache::thrift::protocol::TBinaryProtocol>(transport));
    transport->open();
    client.shutdown();  // returns once the reply arrived; the callback runs after it was sent
    transport->close();
    server.stop();
  }
  CHECK(shutdowns == 1);

  auto big_handler = std::make_shared<ExtensionHandler>(std::map<std::string, Table*>{{"fixed", &large}});
  ExtensionServer server(path, big_handler, [] {}, 4000);
  server.start();
  const auto refused = call(path, "generate");
  CHECK(refused.status.code == 1);
  CHECK_THAT(refused.status.message, Catch::Contains("100 rows") && Catch::Contains("narrow it by time"));
  CHECK(refused.response.empty());
  server.stop();
  std::filesystem::remove(path);
}
