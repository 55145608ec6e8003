/// One task of the vision zoo: a label space over Fashion-MNIST or the digits, with the
/// images as they are or transformed.
struct VisionTask: Sendable {
    enum Images: String, Sendable {
        case fashion, digits
    }

    enum Transform: String, Sendable {
        case none
        /// 90° counter-clockwise.
        case rotated90 = "rotated-90"
        case mirroredInverted = "mirrored-inverted"
    }

    let name: String
    let summary: String
    let images: Images
    let transform: Transform
    let classes: Int
    /// The task's label for an original label; nil leaves the image out of the task.
    let relabel: @Sendable (Int) -> Int?

    /// The eight tasks, each with its own label space.
    static let all: [VisionTask] = [
        VisionTask(
            name: "fashion", summary: "Fashion-MNIST, 10 classes", images: .fashion, transform: .none, classes: 10,
            relabel: { $0 }),
        VisionTask(
            name: "garment-groups", summary: "tops and dresses / trousers / footwear / bags", images: .fashion,
            transform: .none, classes: 4, relabel: { garmentGroup[$0] }),
        VisionTask(
            name: "fashion-rotated", summary: "Fashion-MNIST rotated 90°, 10 classes", images: .fashion,
            transform: .rotated90, classes: 10, relabel: { $0 }),
        VisionTask(
            name: "fashion-mirrored-inverted", summary: "Fashion-MNIST mirrored, intensities inverted, 10 classes",
            images: .fashion, transform: .mirroredInverted, classes: 10, relabel: { $0 }),
        VisionTask(
            name: "digits", summary: "8×8 digits upscaled, 10 classes", images: .digits, transform: .none,
            classes: 10, relabel: { $0 }),
        VisionTask(
            name: "digit-parity", summary: "even / odd digit", images: .digits, transform: .none, classes: 2,
            relabel: { $0 % 2 }),
        VisionTask(
            name: "digit-at-least-5", summary: "digit below 5 / 5 or more", images: .digits, transform: .none,
            classes: 2, relabel: { $0 >= 5 ? 1 : 0 }),
        VisionTask(
            name: "tops", summary: "T-shirt / pullover / coat / shirt", images: .fashion, transform: .none, classes: 4,
            relabel: { tops[$0] }),
    ]

    /// Fashion-MNIST's labels (0 T-shirt, 1 trouser, 2 pullover, 3 dress, 4 coat, 5 sandal,
    /// 6 shirt, 7 sneaker, 8 bag, 9 ankle boot) in four groups.
    static let garmentGroup: [Int: Int] = [0: 0, 2: 0, 3: 0, 4: 0, 6: 0, 1: 1, 5: 2, 7: 2, 9: 2, 8: 3]
    static let tops: [Int: Int] = [0: 0, 2: 1, 4: 2, 6: 3]

    /// The task's first `limit` examples among `set`'s images at `order` (original labels
    /// in `set`), transformed.
    func examples(from set: ImageSet, order: [Int], limit: Int) -> ImageSet {
        var chosen: [Int] = []
        for index in order where chosen.count < limit && relabel(set.labels[index]) != nil { chosen.append(index) }
        let kept = set.subset(chosen, relabel: relabel)
        switch transform {
        case .none: return kept
        case .rotated90:
            return kept.mapImages { ImageTransforms.rotated($0, height: $1, width: $2, quarterTurns: 1) }
        case .mirroredInverted:
            return kept.mapImages { ImageTransforms.mirroredInverted($0, height: $1, width: $2) }
        }
    }
}
