/// Shell-style name patterns for `--skip`: `*` matches any run of characters (dots
/// included), `?` one character; anything else matches itself.
public struct NamePattern: Sendable, Hashable, CustomStringConvertible {
    public let text: String
    public init(_ text: String) { self.text = text }
    public var description: String { text }

    public func matches(_ name: String) -> Bool {
        let pattern = Array(text)
        let value = Array(name)
        var p = 0
        var v = 0
        var star = -1
        var resume = 0
        while v < value.count {
            if p < pattern.count && (pattern[p] == "?" || pattern[p] == value[v]) {
                p += 1
                v += 1
            } else if p < pattern.count && pattern[p] == "*" {
                star = p
                resume = v
                p += 1
            } else if star >= 0 {
                p = star + 1
                resume += 1
                v = resume
            } else {
                return false
            }
        }
        while p < pattern.count && pattern[p] == "*" { p += 1 }
        return p == pattern.count
    }
}
