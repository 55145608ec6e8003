/// Parses and prints sizes like `5GB`, `500MB`, `1.5GiB`, `4096`.
public enum ByteSize {
    /// Decimal units (KB = 1000, as Hugging Face uses for shard sizes) and binary units
    /// (KiB = 1024). A bare number is bytes. Returns nil for anything else or for sizes
    /// that are not positive or do not fit in `Int`.
    public static func parse(_ text: String) -> Int? {
        let trimmed = text.trimmingSpaces.uppercased()
        let units: [(String, Double)] = [
            ("KIB", 1024), ("MIB", 1_048_576), ("GIB", 1_073_741_824), ("TIB", 1_099_511_627_776),
            ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12), ("K", 1e3), ("M", 1e6), ("G", 1e9), ("B", 1),
        ]
        var number = Substring(trimmed)
        var multiplier = 1.0
        for (suffix, value) in units where trimmed.hasSuffix(suffix) {
            number = trimmed.dropLast(suffix.count)
            multiplier = value
            break
        }
        guard let value = Double(number.trimmingSpaces), value.isFinite, value > 0 else { return nil }
        let bytes = (value * multiplier).rounded(.down)
        guard bytes >= 1, bytes < 9.2e18 else { return nil }
        return Int(bytes)
    }

    /// Refuses a bare number below 1 MB, which is almost certainly a size whose unit was
    /// forgotten (`--max-shard-size 10` would write one shard per tensor).
    public static func checkUnit(_ text: String, label: String) throws(AmalgamError) {
        let trimmed = text.trimmingSpaces
        guard !trimmed.isEmpty, trimmed.allSatisfy(\.isNumber), let value = Int(trimmed), value < 1_000_000 else {
            return
        }
        throw AmalgamError(
            .usage,
            "\(label) \(trimmed) has no unit and would mean \(trimmed) bytes; give a unit (\(trimmed)GB, \(trimmed)MB, \(trimmed)GiB)"
        )
    }

    /// `1.50 GB`, `912 B`: decimal units, three significant digits.
    public static func format(_ bytes: Int) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1000, unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        if unit == 0 { return "\(bytes) B" }
        let digits = value >= 100 ? 0 : value >= 10 ? 1 : 2
        return formatFixed(value, digits: digits) + " " + units[unit]
    }

    /// `value` with exactly `digits` decimals (no Foundation formatting needed).
    public static func formatFixed(_ value: Double, digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        let whole = Int(scaled / scale)
        let fraction = Int(scaled - Double(whole) * scale)
        let sign = value < 0 && scaled != 0 ? "-" : ""
        if digits == 0 { return sign + String(whole) }
        let text = String(fraction)
        return sign + String(whole) + "." + String(repeating: "0", count: digits - text.count) + text
    }
}

extension StringProtocol {
    var trimmingSpaces: Substring {
        let text = Substring(self)
        guard let start = text.firstIndex(where: { !$0.isWhitespace }) else { return "" }
        let end = text.lastIndex(where: { !$0.isWhitespace })!
        return text[start...end]
    }
}
