import AmalgamCore

/// The robustness variants' sources, computed tensor by tensor when a merge loads them.
enum SourceVariants {
    /// `W0 + E` per tensor, with `E` Gaussian and `‖E‖ = 0.5 · ‖W - W0‖`.
    static func noisy(_ source: ModelGraph, base: ModelGraph, seed: UInt64) throws -> ModelGraph {
        try transformed(source, base: base) { name, w0, delta in
            var random = SeededRandom(seed: seed, stream: "noise " + name)
            var noise = (0..<delta.count).map { _ in Float(random.nextGaussian()) }
            let target = 0.5 * norm(delta)
            let scale = norm(noise) > 0 ? Float(target / norm(noise)) : 0
            for index in noise.indices { noise[index] = w0[index] + noise[index] * scale }
            return noise
        }
    }

    /// `W0 + prune(W - W0)`: the `fraction` largest-magnitude entries of each task vector
    /// (ties to the lower index), the rest zero.
    static func pruned(_ source: ModelGraph, base: ModelGraph, keeping fraction: Double) throws -> ModelGraph {
        try transformed(source, base: base) { _, w0, delta in
            let kept = Int((fraction * Double(delta.count)).rounded(.toNearestOrAwayFromZero))
            let order = delta.indices.sorted {
                abs(delta[$0]) != abs(delta[$1]) ? abs(delta[$0]) > abs(delta[$1]) : $0 < $1
            }
            var result = w0
            for index in order.prefix(kept) { result[index] += delta[index] }
            return result
        }
    }

    private static func norm(_ values: [Float]) -> Double {
        values.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
    }

    /// `source` with every tensor replaced by `transform(name, W0, W - W0)` as f32, computed
    /// when loaded.
    private static func transformed(
        _ source: ModelGraph, base: ModelGraph, _ transform: @escaping @Sendable (String, [Float], [Float]) -> [Float]
    ) throws -> ModelGraph {
        try source.mapTensors { tensor in
            guard let w0 = base[tensor.name] else { return tensor }
            return Tensor(
                name: tensor.name, shape: tensor.shape, encoding: .plain(.f32),
                storage: .deferred {
                    let original = try w0.floatValues()
                    let values = try tensor.floatValues()
                    let delta = zip(values, original).map { $0 - $1 }
                    return transform(tensor.name, original, delta).withUnsafeBytes { ByteRegion(copying: $0) }
                })
        }
    }
}
