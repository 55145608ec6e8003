import AmalgamCore
import Foundation
import Synchronization
import TestSupport
import Testing

@testable import ONNXFormat

@Suite struct ExternalDataRuleTests {
    @Test(arguments: [
        ("../x.bin", "contains '..'"), ("a/../../x.bin", "contains '..'"), ("/etc/passwd", "is an absolute path"),
        ("a\\b.bin", "contains a backslash, colon or NUL"), ("C:x.bin", "contains a backslash, colon or NUL"),
    ])
    func refusedLocations(location: String, message: String) {
        #expect { try ExternalDataFiles.checkLocation(location, modelPath: "m.onnx") } throws: {
            "\($0)".contains(message)
        }
    }

    @Test func acceptedLocations() throws {
        for location in ["x.bin", "weights/x.bin", "./x.bin", "a..b.bin"] {
            try ExternalDataFiles.checkLocation(location, modelPath: "m.onnx")
        }
    }
}
