import AmalgamCore

/// Where output tensor bytes go: inline `raw_data`, or an external data file beside the
/// model with 4096-byte-aligned offsets (`--external-data`, and automatically when the
/// model would exceed protobuf's 2 GiB limit).
final class ONNXDataPlacement {
    static let externalAlignment = 4096

    let externalFileName: String?
    private(set) var externalPayloads: [(offset: Int, payload: ONNXPayload)] = []
    /// Every payload's tensor name, in the order the model will load them.
    private(set) var loadOrder: [String] = []
    private var nextOffset = 0

    init(externalFileName: String?) { self.externalFileName = externalFileName }

    /// The TensorProto fields that hold (or point to) `payload`.
    func dataFields(_ payload: ONNXPayload) -> [ProtoPart] {
        loadOrder.append(payload.tensorName)
        guard let externalFileName else {
            return [.payload(field: 9, payload)]
        }
        let offset = nextOffset
        externalPayloads.append((offset, payload))
        nextOffset =
            (offset + payload.count + Self.externalAlignment - 1) / Self.externalAlignment * Self.externalAlignment
        func entry(_ key: String, _ value: String) -> ProtoPart {
            .message(field: 13, [.stringField(1, key), .stringField(2, value)])
        }
        return [
            entry("location", externalFileName), entry("offset", String(offset)),
            entry("length", String(payload.count)),
            .varintField(14, 1),
        ]
    }
}
