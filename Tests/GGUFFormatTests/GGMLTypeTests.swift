import AmalgamCore
import TestSupport
import Testing

@testable import GGUFFormat

struct GGMLTypeTests {
    @Test("type codes, names and block sizes follow ggml; retired codes are unknown")
    func table() {
        #expect(
            GGMLType(rawValue: 12) == .q4_K && GGMLType.q4_K.name == "Q4_K" && GGMLType.q4_K.blockLayout == (256, 144))
        #expect(GGMLType(name: "iq4_nl") == .iq4_NL && GGMLType(name: "BF16")?.plainDType == .bf16)
        for retired: UInt32 in [4, 5, 31, 32, 33, 36, 37, 38] { #expect(GGMLType(rawValue: retired) == nil) }
        #expect(GGMLType(.plain(.u8)) == nil && GGMLType(.plain(.i16)) == .i16)
    }
}
