#!/usr/bin/python3
"""Checks the Python generated from bridge/osquery.thrift against osquery's protocol as the
protocol document states it, written out here by hand. The bridge and the fake osquery core share
that IDL, so a wrong field id or type there would pass every other test and fail against a real
osqueryd. Needs no root and no kernel.
"""
import os
import sys
import unittest

sys.path.insert(0, os.environ["VAJRA_PY_GEN"])

from thrift.Thrift import TType  # noqa: E402
from thrift.protocol import TBinaryProtocol  # noqa: E402
from thrift.transport import TTransport  # noqa: E402

from vajra_osquery import Extension, ExtensionManager, ttypes  # noqa: E402

# From docs/osquery-extension-protocol.md ("Types (field ids matter)"): field id -> (name, type).
STRUCTS = {
    "InternalOptionInfo": {1: ("value", "string"), 2: ("default_value", "string"), 3: ("type", "string")},
    "InternalExtensionInfo": {1: ("name", "string"), 2: ("version", "string"), 3: ("sdk_version", "string"),
                              4: ("min_sdk_version", "string")},
    "ExtensionStatus": {1: ("code", "i32"), 2: ("message", "string"), 3: ("uuid", "i64")},
    "ExtensionResponse": {1: ("status", "struct ExtensionStatus"), 2: ("response", "list<map<string,string>>")},
    "ExtensionException": {1: ("code", "i32"), 2: ("message", "string"), 3: ("uuid", "i64")},
}

EXTENSION_CODES = {"EXT_SUCCESS": 0, "EXT_FAILED": 1, "EXT_FATAL": 2}

# method -> (arguments by field id, result type or None for void)
EXTENSION_METHODS = {
    "ping": ({}, "struct ExtensionStatus"),
    "call": ({1: ("registry", "string"), 2: ("item", "string"), 3: ("request", "map<string,string>")},
             "struct ExtensionResponse"),
    "shutdown": ({}, None),
}
MANAGER_METHODS = {
    "extensions": ({}, "map<i64,struct InternalExtensionInfo>"),
    "options": ({}, "map<string,struct InternalOptionInfo>"),
    "registerExtension": ({1: ("info", "struct InternalExtensionInfo"),
                           2: ("registry", "map<string,map<string,list<map<string,string>>>>")},
                          "struct ExtensionStatus"),
    "deregisterExtension": ({1: ("uuid", "i64")}, "struct ExtensionStatus"),
    "query": ({1: ("sql", "string")}, "struct ExtensionResponse"),
    "getQueryColumns": ({1: ("sql", "string")}, "struct ExtensionResponse"),
}

SIMPLE = {TType.STRING: "string", TType.I32: "i32", TType.I64: "i64", TType.BOOL: "bool", TType.DOUBLE: "double"}


def describe(ttype, args):
    """A type from a thrift_spec entry, written the way the tables above write it."""
    if ttype in SIMPLE:
        return SIMPLE[ttype]
    if ttype == TType.STRUCT:
        return "struct " + args[0].__name__
    if ttype == TType.LIST:
        return "list<%s>" % describe(args[0], args[1])
    if ttype == TType.MAP:
        return "map<%s,%s>" % (describe(args[0], args[1]), describe(args[2], args[3]))
    raise AssertionError("unexpected thrift type %r" % ttype)


def fields(cls):
    """field id -> (name, type) of a generated struct."""
    out = {}
    for entry in cls.thrift_spec:
        if entry is None:
            continue
        field_id, ttype, name, args, _default = entry
        out[field_id] = (name, describe(ttype, args))
    return out


class ProtocolSpec(unittest.TestCase):
    def test_structs(self):
        for name, expected in STRUCTS.items():
            with self.subTest(struct=name):
                self.assertEqual(fields(getattr(ttypes, name)), expected)

    def test_extension_code(self):
        for name, value in EXTENSION_CODES.items():
            self.assertEqual(getattr(ttypes.ExtensionCode, name), value)

    def check_service(self, module, methods, inherited):
        iface = {m for m in vars(module.Iface) if not m.startswith("_")}
        self.assertEqual(iface, set(methods), "methods declared by %s" % module.__name__)
        for method, (args, result) in methods.items():
            with self.subTest(method=method):
                self.assertEqual(fields(getattr(module, method + "_args")), args)
                # Every method, shutdown included, has a reply: none is oneway.
                result_fields = fields(getattr(module, method + "_result"))
                self.assertEqual(result_fields.get(0), None if result is None else ("success", result))
        for method in inherited:
            self.assertTrue(hasattr(module.Client, method), "%s inherits %s" % (module.__name__, method))

    def test_extension_service(self):
        self.check_service(Extension, EXTENSION_METHODS, [])

    def test_manager_service(self):
        self.check_service(ExtensionManager, MANAGER_METHODS, EXTENSION_METHODS)
        self.assertTrue(issubclass(ExtensionManager.Iface, Extension.Iface))

    def test_wire_bytes(self):
        """ExtensionStatus{0, "OK", 7} in the binary protocol, byte by byte: type, field id, value."""
        buffer = TTransport.TMemoryBuffer()
        ttypes.ExtensionStatus(code=0, message="OK", uuid=7).write(TBinaryProtocol.TBinaryProtocol(buffer))
        expected = bytes.fromhex(
            "08" "0001" "00000000"              # i32 code, field 1
            "0b" "0002" "00000002" "4f4b"       # string message, field 2
            "0a" "0003" "0000000000000007"      # i64 uuid, field 3
            "00")                               # stop
        self.assertEqual(buffer.getvalue(), expected)

    def test_call_message_header(self):
        """A strict-write CALL named by its bare method name (no multiplexing prefix)."""
        buffer = TTransport.TMemoryBuffer()
        client = Extension.Client(TBinaryProtocol.TBinaryProtocol(buffer))
        client.send_ping()
        data = buffer.getvalue()
        self.assertEqual(data[:4], bytes.fromhex("80010001"))
        self.assertEqual(data[4:8], (4).to_bytes(4, "big"))
        self.assertEqual(data[8:12], b"ping")


if __name__ == "__main__":
    unittest.main()
