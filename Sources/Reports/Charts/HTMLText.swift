/// Text for HTML and SVG: escaping, and numbers written for people (labels) and for
/// programs (`data-` attributes, exact).
enum HTMLText {
    /// `text` with `&`, `<`, `>`, `"` and `'` as character references: safe in element
    /// content and in quoted attribute values alike.
    static func escape(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// The shortest text that reads back as `value` (what `data-` attributes hold, so a
    /// checker recovers the exact numbers the JSON had).
    static func exact(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    /// A pixel coordinate, to a hundredth.
    static func pixel(_ value: Double) -> String {
        let rounded = (value * 100).rounded() / 100
        return exact(rounded == 0 ? 0 : rounded)
    }

    /// `value` with `digits` decimals.
    static func fixed(_ value: Double, digits: Int) -> String {
        guard value.isFinite else { return "—" }
        guard abs(value) < 1e15 else { return short(value) }  // past exact decimals: 1.5e+20
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        let whole = (scaled / scale).rounded(.towardZero)
        let fraction = Int(scaled - whole * scale)
        let sign = value < 0 && scaled != 0 ? "-" : ""
        let wholeText = String(Int64(whole))
        if digits == 0 { return sign + wholeText }
        let text = String(fraction)
        return sign + wholeText + "." + String(repeating: "0", count: digits - text.count) + text
    }

    /// About four significant digits, in plain or scientific notation as the size asks
    /// (`0.8123`, `1234`, `3.2e-05`).
    static func short(_ value: Double) -> String {
        guard value.isFinite else { return value.isNaN ? "NaN" : value > 0 ? "∞" : "-∞" }
        if value == 0 { return "0" }
        let magnitude = abs(value)
        if magnitude >= 1e6 || magnitude < 1e-3 {
            var exponent = Int(Numerics.log10(magnitude).rounded(.down))
            var mantissa = value / Numerics.power10(exponent)
            if abs(mantissa) >= 9.9995 {
                exponent += 1
                mantissa /= 10
            }
            return trimmed(fixed(mantissa, digits: 3)) + "e" + (exponent < 0 ? "-" : "+") + pad(abs(exponent))
        }
        let digits = max(0, 3 - Int(Numerics.log10(magnitude).rounded(.down)))
        return trimmed(fixed(value, digits: digits))
    }

    /// Without trailing zeros after a decimal point (`2.500` → `2.5`, `3.000` → `3`).
    static func trimmed(_ text: String) -> String {
        guard text.contains(".") else { return text }
        var result = Substring(text)
        while result.last == "0" { result = result.dropLast() }
        if result.last == "." { result = result.dropLast() }
        return String(result)
    }

    private static func pad(_ exponent: Int) -> String { exponent < 10 ? "0\(exponent)" : "\(exponent)" }
}
