import AmalgamCore

extension GGUFPlugin {
    /// The end of the last tensor's data (padded to the alignment) as the header places it:
    /// the size the header gives the file (for a zstd-compressed copy, whose frame must not
    /// produce more). Any fault in the prefix reads as "not complete yet": the reader that
    /// parses the whole decompressed file names the fault.
    public func impliedSize(ofPrefix prefix: ByteRegion) throws(AmalgamError) -> Zstd.ImpliedSize? {
        var reader = GGUFByteReader(region: prefix, path: "")
        do {
            guard try reader.bytes(4) == GGUFFile.magic else {
                throw AmalgamError(.invalidFormat, "not a GGUF file (missing 'GGUF' magic)", offset: 0)
            }
            _ = try reader.u32("version")
            let tensorCount = try reader.load(UInt64.self, "tensor count")
            let keyCount = try reader.load(UInt64.self, "metadata key count")
            var alignment = GGUFFile.defaultAlignment
            for _ in 0..<keyCount {
                let key = try reader.string("metadata key")
                let typeOffset = reader.position
                let value = try reader.value(ofType: try reader.u32("value type"), key: key, at: typeOffset)
                if key == "general.alignment", let number = value.intValue, number > 0, number & (number - 1) == 0,
                    number <= 1 << 30
                {
                    alignment = number
                }
            }
            var end = 0
            for _ in 0..<tensorCount {
                _ = try reader.string("tensor name")
                let dimensions = try reader.u32("dimension count")
                guard (1...UInt32(GGUFFile.maximumDimensions)).contains(dimensions) else { return .needsMore }
                var elements = 1
                for _ in 0..<dimensions {
                    let extent = try reader.load(UInt64.self, "ne")
                    guard extent <= UInt64(Int32.max) << 16 else { return .needsMore }
                    let (product, overflow) = elements.multipliedReportingOverflow(by: Int(extent))
                    guard !overflow else { return .needsMore }
                    elements = product
                }
                guard let type = GGMLType(rawValue: try reader.u32("type")) else { return .needsMore }
                let offset = try reader.load(UInt64.self, "data offset")
                let (blockElements, blockBytes) = type.blockLayout
                let (bytes, overflow) = (elements / blockElements).multipliedReportingOverflow(by: blockBytes)
                guard !overflow, offset <= UInt64(Int.max / 2), bytes <= Int.max / 2 - Int(offset) else {
                    return .needsMore
                }
                end = max(end, Int(offset) + bytes)
            }
            let dataOffset = (reader.position + alignment - 1) / alignment * alignment
            return .bytes(dataOffset + (end + alignment - 1) / alignment * alignment)
        } catch {
            return .needsMore
        }
    }
}
