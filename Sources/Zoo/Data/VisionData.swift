import AmalgamCore

/// The two image sources of the vision zoo, read from the files Debian and scikit-learn
/// install: Fashion-MNIST (IDX, gzip) and the 8×8 digits (CSV, gzip), the digits upscaled
/// bilinearly to 24×24 and padded to 28×28 so both share one input size.
enum VisionData {
    /// Where Debian's `dataset-fashion-mnist` puts the IDX files.
    static let fashionFolder = "/usr/share/datasets/fashion-mnist"

    /// Fashion-MNIST's `train` or `t10k` split.
    static func fashion(_ split: String, folder: String = fashionFolder) throws -> ImageSet {
        let images = try idx(folder + "/\(split)-images-idx3-ubyte.gz", magic: 0x0803)
        let labels = try idx(folder + "/\(split)-labels-idx1-ubyte.gz", magic: 0x0801)
        guard images.dimensions.count == 3, labels.dimensions == [images.dimensions[0]] else {
            throw AmalgamError(
                .invalidFormat, "images \(images.dimensions) and labels \(labels.dimensions) do not match", file: folder
            )
        }
        return ImageSet(
            pixels: images.bytes.map { Float($0) / 255 }, labels: labels.bytes.map(Int.init),
            height: images.dimensions[1],
            width: images.dimensions[2])
    }

    /// An IDX file: big-endian magic (`0x0803` u8 3-D, `0x0801` u8 1-D), dimensions, bytes.
    static func idx(_ path: String, magic: UInt32) throws -> (dimensions: [Int], bytes: ArraySlice<UInt8>) {
        let data = try Gzip.contents(of: path)
        func word(_ offset: Int) -> UInt32 { data[offset..<(offset + 4)].reduce(0) { $0 << 8 | UInt32($1) } }
        guard data.count >= 8, word(0) == magic else {
            throw AmalgamError(.invalidFormat, "not an IDX file of type \(String(magic, radix: 16))", file: path)
        }
        let rank = Int(magic & 0xFF)
        guard data.count >= 4 + 4 * rank else { throw AmalgamError(.invalidFormat, "truncated IDX header", file: path) }
        let dimensions = (0..<rank).map { Int(word(4 + 4 * $0)) }
        let start = 4 + 4 * rank
        let count = dimensions.reduce(1, *)
        guard data.count == start + count else {
            throw AmalgamError(
                .invalidFormat, "IDX data is \(data.count - start) bytes, dimensions \(dimensions) need \(count)",
                file: path)
        }
        return (dimensions, data[start...])
    }

    /// scikit-learn's digits (1,797 images of 8×8 with values 0-16, labels 0-9) from its
    /// `digits.csv.gz`, upscaled to 24×24 and padded to 28×28, pixels in [0, 1].
    static func digits(_ path: String) throws -> ImageSet {
        let text = String(decoding: try Gzip.contents(of: path, limit: 10 << 20), as: UTF8.self)
        var set = ImageSet(pixels: [], labels: [], height: 28, width: 28)
        for (number, line) in text.split(separator: "\n").enumerated() {
            let fields = line.split(separator: ",").map { Double($0.trimmingCharacters(in: " \r")) }
            guard fields.count == 65, fields.allSatisfy({ $0 != nil }) else {
                throw AmalgamError(.invalidFormat, "line \(number + 1) is not 64 pixels and a label", file: path)
            }
            let pixels = fields.prefix(64).map { Float($0! / 16) }
            set.pixels += ImageTransforms.padded(
                ImageTransforms.resized(pixels, height: 8, width: 8, to: 24), size: 24, to: 28)
            set.labels.append(Int(fields[64]!))
        }
        guard set.count == 1797 else {
            throw AmalgamError(.invalidFormat, "holds \(set.count) digits, scikit-learn's set has 1797", file: path)
        }
        return set
    }
}

extension Substring {
    func trimmingCharacters(in characters: String) -> Substring {
        var text = self
        while let first = text.first, characters.contains(first) { text = text.dropFirst() }
        while let last = text.last, characters.contains(last) { text = text.dropLast() }
        return text
    }
}
