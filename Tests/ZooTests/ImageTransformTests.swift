import Testing

@testable import Zoo

/// The vision tasks' image transforms and label spaces.
struct ImageTransformTests {
    static let image: [Float] = (0..<16).map(Float.init)

    @Test("four quarter turns give the image back; one turns it counter-clockwise")
    func rotation() {
        var turned = Self.image[...]
        for _ in 0..<4 { turned = ImageTransforms.rotated(turned, height: 4, width: 4, quarterTurns: 1)[...] }
        #expect(Array(turned) == Self.image)
        let once = ImageTransforms.rotated(Self.image[...], height: 4, width: 4, quarterTurns: 1)
        // The top-right pixel (row 0, column 3) goes to the top-left; the top-left to the bottom-left.
        #expect(once[0] == Self.image[3] && once[12] == Self.image[0])
    }

    @Test("mirrored and inverted twice is the image")
    func mirror() {
        let once = ImageTransforms.mirroredInverted(Self.image.map { $0 / 16 }[...], height: 4, width: 4)
        #expect(once[0] == 1 - Float(3) / 16)
        let twice = ImageTransforms.mirroredInverted(once[...], height: 4, width: 4)
        #expect(twice == Self.image.map { $0 / 16 })
    }

    @Test("bilinear upscaling keeps a constant image and the corner values; padding centres")
    func resizeAndPad() {
        #expect(
            ImageTransforms.resized([Float](repeating: 0.25, count: 64), height: 8, width: 8, to: 24).allSatisfy {
                $0 == 0.25
            })
        let ramp = (0..<64).map { Float($0 % 8) }
        let big = ImageTransforms.resized(ramp, height: 8, width: 8, to: 24)
        #expect(big[0] == 0 && big[23] == 7)
        let padded = ImageTransforms.padded([Float](repeating: 1, count: 4), size: 2, to: 4)
        #expect(padded == [0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0])
    }

    @Test("every task's labels cover its classes exactly")
    func labelSpaces() {
        #expect(VisionTask.all.count == 8 && Set(VisionTask.all.map(\.name)).count == 8)
        for task in VisionTask.all {
            let labels = Set((0..<10).compactMap(task.relabel))
            #expect(labels == Set(0..<task.classes), "\(task.name)")
        }
        let tops = VisionTask.all.first { $0.name == "tops" }!
        #expect((0..<10).compactMap(tops.relabel).count == 4)
    }
}
