import AmalgamCore
import Foundation
import TestSupport
import Testing

@testable import NPZFormat

struct NPYHeaderTests {
    static func parse(_ dict: String, version: UInt8 = 1) throws -> NPYHeader {
        var bytes = NPYHeader.magic + [version, 0]
        let text = Array(dict.utf8)
        bytes +=
            version == 1
            ? [UInt8(text.count & 0xFF), UInt8(text.count >> 8)]
            : [UInt8(text.count & 0xFF), UInt8(text.count >> 8), 0, 0]
        bytes += text
        return try bytes.withUnsafeBytes { try NPYHeader.parse($0) }
    }

    @Test("numpy's header dicts parse, including Python 2 longs and version 3")
    func parse() throws {
        let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }   \n"
        let header = try Self.parse(dict)
        #expect(header.dtype == .f32 && header.shape == [3, 4] && !header.fortranOrder && !header.bigEndian)
        #expect(header.dataOffset == 10 + dict.utf8.count)
        #expect(try Self.parse("{'descr': '>i8', 'fortran_order': True, 'shape': (2L, 5L)}").bigEndian)
        #expect(try Self.parse("{\"shape\": (), \"descr\": \"|b1\", \"fortran_order\": False}", version: 3).shape == [])
        #expect(try Self.parse("{'descr': '<c16', 'fortran_order': False, 'shape': (7,), }").dtype == .c128)
    }

    @Test(
        "bad headers are refused precisely",
        arguments: [
            (
                "{'descr': '|O', 'fortran_order': False, 'shape': (3,), }",
                "is a pickled Python object array; Amalgam never unpickles"
            ),
            (
                "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,), }",
                "structured dtypes (a descr list) are not supported"
            ),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'extra': 1}", "unknown key 'extra'"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (-3,), }", "unexpected '-'"),
            ("{'descr': '<f4', 'fortran_order': 0, 'shape': (3,), }", "'fortran_order' is missing or not True/False"),
            ("{'descr': '<f4', 'shape': (3,), }", "'fortran_order' is missing"),
            (
                "{'descr': '|V2', 'fortran_order': False, 'shape': (3,), }",
                "descr '|V2' holds raw 2-byte values with no dtype"
            ),
            (
                "{'descr': '<U5', 'fortran_order': False, 'shape': (3,), }",
                "descr '<U5' is not a dtype Amalgam supports"
            ),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", "overflows"),
            ("{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", "duplicate key 'descr'"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), } junk", "unexpected text after the dict"),
        ])
    func refused(dict: String, message: String) {
        do {
            _ = try Self.parse(dict)
            Issue.record("accepted \(dict)")
        } catch {
            #expect("\(error)".contains(message), "\(error)")
        }
    }

    @Test("serialised headers match numpy's layout: 64-byte aligned, growth padding, version 1")
    func serialize() throws {
        for shape in [[], [5], [3, 4], [0, 2, 7]] as [[Int]] {
            let bytes = NPYHeader.serialize(descr: "<f4", shape: shape)
            #expect(bytes.count % 64 == 0 && bytes.last == 0x0A)
            let header = try bytes.withUnsafeBytes { try NPYHeader.parse($0) }
            #expect(header.shape.dimensions == shape && header.dataOffset == bytes.count)
        }
        let text = String(decoding: NPYHeader.serialize(descr: "<i8", shape: [3, 4]).dropFirst(10), as: UTF8.self)
        #expect(
            text.hasPrefix(
                "{'descr': '<i8', 'fortran_order': False, 'shape': (3, 4), }" + String(repeating: " ", count: 20)))
    }
}
