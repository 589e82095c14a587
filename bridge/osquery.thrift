// osquery's extension protocol, written from ../shared/docs/osquery-extension-protocol.md (the
// types, field ids and method names there). osquery talks it over a Unix socket with the binary
// protocol and a buffered transport; vajra.ext serves `Extension` and is a client of
// `ExtensionManager` (osquery core). Field ids are the wire format: never renumber them.

namespace cpp vajra.osquery
namespace py vajra_osquery

// Request to a plugin: always has "action"; table generate adds "context" (JSON).
typedef map<string, string> ExtensionPluginRequest
// A plugin's answer: rows for a table, route rows for a registration.
typedef list<map<string, string>> ExtensionPluginResponse

struct InternalOptionInfo {
  1: string value,
  2: string default_value,
  3: string type,
}

typedef map<string, InternalOptionInfo> InternalOptionList

struct InternalExtensionInfo {
  1: string name,
  2: string version,
  3: string sdk_version,
  4: string min_sdk_version,
}

typedef i64 ExtensionRouteUUID
// Plugin name -> its route rows.
typedef map<string, ExtensionPluginResponse> ExtensionRouteTable
// Registry name ("table", "config", ...) -> its plugins.
typedef map<string, ExtensionRouteTable> ExtensionRegistry
typedef map<ExtensionRouteUUID, InternalExtensionInfo> InternalExtensionList

enum ExtensionCode {
  EXT_SUCCESS = 0,
  EXT_FAILED = 1,
  EXT_FATAL = 2,
}

struct ExtensionStatus {
  1: i32 code,
  2: string message,
  3: ExtensionRouteUUID uuid,
}

struct ExtensionResponse {
  1: ExtensionStatus status,
  2: ExtensionPluginResponse response,
}

// Declared by osquery, never thrown by it: failures travel in ExtensionStatus.
exception ExtensionException {
  1: i32 code,
  2: string message,
  3: ExtensionRouteUUID uuid,
}

// What an extension serves on <manager socket>.<uuid>.
service Extension {
  ExtensionStatus ping(),
  ExtensionResponse call(1: string registry, 2: string item, 3: ExtensionPluginRequest request),
  // Not oneway: osquery waits for the reply.
  void shutdown(),
}

// What osquery core serves on its manager socket.
service ExtensionManager extends Extension {
  InternalExtensionList extensions(),
  InternalOptionList options(),
  ExtensionStatus registerExtension(1: InternalExtensionInfo info, 2: ExtensionRegistry registry),
  ExtensionStatus deregisterExtension(1: ExtensionRouteUUID uuid),
  ExtensionResponse query(1: string sql),
  ExtensionResponse getQueryColumns(1: string sql),
}
