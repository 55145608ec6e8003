import Testing

@testable import AmalgamCore

#if canImport(Glibc)
    import Glibc
#endif

struct ByteSizeTests {
    @Test func parse() {
        #expect(ByteSize.parse("5GB") == 5_000_000_000)
        #expect(ByteSize.parse("500MB") == 500_000_000)
        #expect(ByteSize.parse("2GiB") == 2 << 30)
        #expect(ByteSize.parse("1.5 kb") == 1500)
        #expect(ByteSize.parse("4096") == 4096)
        #expect(ByteSize.parse("0") == nil)
        #expect(ByteSize.parse("-1MB") == nil)
        #expect(ByteSize.parse("lots") == nil)
        #expect(ByteSize.parse("1e30") == nil)
    }

    @Test func format() {
        #expect(ByteSize.format(912) == "912 B")
        #expect(ByteSize.format(1_500_000_000) == "1.50 GB")
        #expect(ByteSize.formatFixed(-0.004, digits: 2) == "0.00")
        #expect(ByteSize.formatFixed(2.345, digits: 1) == "2.3")
    }
}
