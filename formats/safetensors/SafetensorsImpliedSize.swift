import AmalgamCore

extension SafetensorsPlugin {
    /// 8 + the header length + the largest `data_offsets` end: the size the header gives the
    /// file (for a zstd-compressed copy, whose frame must not produce more).
    public func impliedSize(ofPrefix prefix: ByteRegion) throws(AmalgamError) -> Zstd.ImpliedSize? {
        guard prefix.count >= 8 else { return .needsMore }
        let headerLength = prefix.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }.littleEndian
        guard headerLength <= SafetensorsFile.maximumHeaderBytes else {
            throw AmalgamError(
                .invalidFormat,
                "header length \(headerLength) exceeds the limit of \(SafetensorsFile.maximumHeaderBytes) bytes",
                offset: 0)
        }
        let headerEnd = 8 + Int(headerLength)
        guard prefix.count >= headerEnd else { return .needsMore }
        let json = try prefix.slice(offset: 8, count: Int(headerLength)).withUnsafeBytes {
            (bytes) throws(AmalgamError) in try JSONParser.parse(bytes)
        }
        guard let members = json.objectValue else {
            throw AmalgamError(.invalidFormat, "header is \(json.typeName), not a JSON object", offset: 8)
        }
        var end: UInt64 = 0
        for (name, value) in members where name != "__metadata__" {
            guard let offsets = value["data_offsets"]?.arrayValue, offsets.count == 2,
                let last = offsets[1].uint64Value,
                last <= UInt64(Int.max - headerEnd)
            else {
                throw AmalgamError(.invalidFormat, "data_offsets missing or out of range", tensor: name, offset: 8)
            }
            end = max(end, last)
        }
        return .bytes(headerEnd + Int(end))
    }
}
