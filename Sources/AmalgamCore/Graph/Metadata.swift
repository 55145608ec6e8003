/// Ordered key-value metadata: keys keep their first insertion order; assigning an existing
/// key replaces its value in place.
public struct Metadata: Sendable, Hashable, Sequence {
    public struct Entry: Sendable, Hashable {
        public let key: String
        public var value: MetadataValue
    }

    public private(set) var entries: [Entry] = []
    private var index: [String: Int] = [:]

    public init() {}

    public init(_ pairs: KeyValuePairs<String, MetadataValue>) {
        for (key, value) in pairs { self[key] = value }
    }

    public subscript(key: String) -> MetadataValue? {
        get { index[key].map { entries[$0].value } }
        set {
            if let position = index[key] {
                if let newValue {
                    entries[position].value = newValue
                } else {
                    entries.remove(at: position)
                    index = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.key, $0) })
                }
            } else if let newValue {
                index[key] = entries.count
                entries.append(Entry(key: key, value: newValue))
            }
        }
    }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }
    public var keys: [String] { entries.map(\.key) }
    public func makeIterator() -> IndexingIterator<[Entry]> { entries.makeIterator() }
}
