/// Grey images with labels: pixels in [0, 1], row-major, `height x width` each.
struct ImageSet: Sendable {
    var pixels: [Float]
    var labels: [Int]
    let height: Int
    let width: Int

    var count: Int { labels.count }
    var imageSize: Int { height * width }

    /// Image `index`'s pixels.
    func image(_ index: Int) -> ArraySlice<Float> { pixels[(index * imageSize)..<((index + 1) * imageSize)] }

    /// The images at `indices`, in that order, with labels from `relabel` (nil drops the image).
    func subset(_ indices: [Int], relabel: (Int) -> Int? = { $0 }) -> ImageSet {
        var result = ImageSet(pixels: [], labels: [], height: height, width: width)
        for index in indices {
            guard let label = relabel(labels[index]) else { continue }
            result.pixels += image(index)
            result.labels.append(label)
        }
        return result
    }

    /// Every image transformed by `transform` (a function of one image's pixels).
    func mapImages(_ transform: (ArraySlice<Float>, Int, Int) -> [Float]) -> ImageSet {
        var result = ImageSet(pixels: [], labels: labels, height: height, width: width)
        result.pixels.reserveCapacity(pixels.count)
        for index in 0..<count { result.pixels += transform(image(index), height, width) }
        return result
    }
}

/// The image transforms the vision tasks use. All keep the image's size (square images).
enum ImageTransforms {
    /// Rotated by `quarterTurns` × 90° counter-clockwise.
    static func rotated(_ image: ArraySlice<Float>, height: Int, width: Int, quarterTurns: Int) -> [Float] {
        precondition(height == width, "rotations are for square images")
        let base = image.startIndex
        var out = [Float](repeating: 0, count: height * width)
        for row in 0..<height {
            for column in 0..<width {
                let (r, c): (Int, Int)
                switch ((quarterTurns % 4) + 4) % 4 {
                case 1: (r, c) = (width - 1 - column, row)  // 90° counter-clockwise
                case 2: (r, c) = (height - 1 - row, width - 1 - column)
                case 3: (r, c) = (column, height - 1 - row)
                default: (r, c) = (row, column)
                }
                out[r * width + c] = image[base + row * width + column]
            }
        }
        return out
    }

    /// Mirrored left to right, intensities inverted (1 - p).
    static func mirroredInverted(_ image: ArraySlice<Float>, height: Int, width: Int) -> [Float] {
        let base = image.startIndex
        var out = [Float](repeating: 0, count: height * width)
        for row in 0..<height {
            for column in 0..<width { out[row * width + column] = 1 - image[base + row * width + (width - 1 - column)] }
        }
        return out
    }

    /// Bilinear resampling of a `height x width` image to `size x size` (pixel centres aligned:
    /// source coordinate `(i + 0.5) · height / size - 0.5`, clamped at the edges).
    static func resized(_ image: [Float], height: Int, width: Int, to size: Int) -> [Float] {
        var out = [Float](repeating: 0, count: size * size)
        func coordinate(_ i: Int, _ extent: Int) -> (Int, Int, Float) {
            let position = min(max((Float(i) + 0.5) * Float(extent) / Float(size) - 0.5, 0), Float(extent - 1))
            let low = Int(position)
            return (low, min(low + 1, extent - 1), position - Float(low))
        }
        for row in 0..<size {
            let (r0, r1, fr) = coordinate(row, height)
            for column in 0..<size {
                let (c0, c1, fc) = coordinate(column, width)
                let top = image[r0 * width + c0] * (1 - fc) + image[r0 * width + c1] * fc
                let bottom = image[r1 * width + c0] * (1 - fc) + image[r1 * width + c1] * fc
                out[row * size + column] = top * (1 - fr) + bottom * fr
            }
        }
        return out
    }

    /// `image` (`size x size`) in the middle of a `total x total` black canvas.
    static func padded(_ image: [Float], size: Int, to total: Int) -> [Float] {
        let margin = (total - size) / 2
        var out = [Float](repeating: 0, count: total * total)
        for row in 0..<size {
            for column in 0..<size { out[(row + margin) * total + column + margin] = image[row * size + column] }
        }
        return out
    }
}
