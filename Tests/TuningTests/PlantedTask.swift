import AmalgamCore
import LinearAlgebra
import Testing

@testable import Tuning

/// A planted Stage 2 problem: an MLP base, merge factors `U`, `V` for its first layer, and
/// labels from the same network with `W* = W0 + U diag(s*) Vᵀ`. Tuning only `s` can reach
/// the planted accuracy (100%); the base cannot.
struct PlantedTask {
    let base: ModelGraph
    let merged: ModelGraph
    let factors: FactorSet
    let train: Dataset
    let test: Dataset
    static let (inputs, hidden, classes, rank) = (8, 16, 3, 4)

    init(seed: UInt64 = 11) throws {
        var generator = SeededRandom(seed: seed)
        base = try Models.mlp(widths: [Self.inputs, Self.hidden, Self.classes], seed: seed)
        // Orthonormal directions from a QR of random matrices.
        let u = try QRDecomposition(
            Matrix(
                rows: Self.hidden, columns: Self.rank, elements: Models.random([Self.hidden, Self.rank], &generator))
        ).q
        let v = try QRDecomposition(
            Matrix(
                rows: Self.inputs, columns: Self.rank, elements: Models.random([Self.inputs, Self.rank], &generator))
        ).q
        let planted: [Float] = [4, 3, 2.5, 2]
        factors = try FactorSet(
            graph: try ModelGraph(tensors: [
                Tensor(name: "layers.0.weight.U", shape: [Self.hidden, Self.rank], floats: u.elements),
                Tensor(name: "layers.0.weight.S", shape: [Self.rank], floats: [1, 1, 1, 1]),
                Tensor(name: "layers.0.weight.V", shape: [Self.inputs, Self.rank], floats: v.elements),
            ]))
        var w0 = Matrix(rows: Self.hidden, columns: Self.inputs, elements: try base["layers.0.weight"]!.floatValues())
        var mergedWeight = w0
        try BLAS.gemm(u, v, transposeB: true, beta: 1, into: &mergedWeight)
        merged = try base.mapTensors {
            $0.name == "layers.0.weight" ? Tensor(name: $0.name, shape: $0.shape, floats: mergedWeight.elements) : $0
        }
        try BLAS.gemm(u.scalingColumns(by: planted), v, transposeB: true, beta: 1, into: &w0)
        let teacherGraph = try base.mapTensors {
            $0.name == "layers.0.weight" ? Tensor(name: $0.name, shape: $0.shape, floats: w0.elements) : $0
        }
        let teacher = try MLPClassifier(
            store: ParameterStore(graph: teacherGraph, mode: .full),
            prefixes: MLPClassifier.layerPrefixes(in: teacherGraph)!, activation: .relu, classes: Self.classes)
        /// Examples the teacher classifies with a clear margin (so that the planted values,
        /// not sharper ones, are what fits the labels best).
        func data(_ count: Int) throws -> Dataset {
            var x: [Float] = []
            var labels: [Int] = []
            while labels.count < count {
                let candidate = Models.random([1, Self.inputs], &generator, scale: 2)
                let logits = try teacher.forward(.features(Matrix(rows: 1, columns: Self.inputs, elements: candidate)))
                    .elements
                let ranked = logits.indices.sorted { logits[$0] > logits[$1] }
                guard logits[ranked[0]] - logits[ranked[1]] >= 1 else { continue }
                x += candidate
                labels.append(ranked[0])
            }
            return try Dataset(
                graph: ModelGraph(tensors: [
                    Tensor(name: "x", shape: [count, Self.inputs], floats: x),
                    Tensor(
                        name: "y", shape: [count], encoding: .plain(.i64),
                        storage: .region(labels.map(Int64.init).withUnsafeBytes { ByteRegion(copying: $0) })),
                ]), path: "planted.npz")
        }
        train = try data(2000)
        test = try data(500)
    }
}
