import AmalgamCore
import Foundation

/// mergekit's `karcher`: the Karcher (Riemannian) mean of every input's direction on the
/// unit sphere, by at most `max_iter` gradient steps (stopping when the tangent's norm is
/// below `tol`), scaled by the inputs' mean norm. Every model counts equally, the base too.
public struct KarcherMerge: MergeMethod {
    public init() {}

    public var name: String { "karcher" }
    public var settings: [(key: String, value: JSONValue)] { [] }
    public var takesWeights: Bool { true }
    public var baseIsInput: Bool { true }
    public var parameterSpecs: [ParameterSpec] {
        [
            ParameterSpec("max_iter", .shared, default: .number(10)),
            ParameterSpec("tol", .shared, default: .number(1e-5)),
        ]
    }

    public func merge(_ input: TensorMergeInput) throws -> TensorMergeResult {
        let tensors = input.weights
        if tensors.count == 1 { return TensorMergeResult(merged: tensors[0]) }
        let iterations = Int(input.parameters.number("max_iter") ?? 10)
        let tolerance = input.parameters.number("tol") ?? 1e-5
        let n = input.base.count
        let alpha = 1 / Double(tensors.count)
        let norms = tensors.map { MergeMath.norm($0) }
        let valid = tensors.indices.filter { norms[$0] > tolerance }
        guard !valid.isEmpty else { return TensorMergeResult(merged: [Float](repeating: 0, count: n)) }
        let units = valid.map { index in tensors[index].map { Double($0) / norms[index] } }
        let weight = 1 / Double(valid.count)
        var mean = [Double](repeating: 0, count: n)
        for unit in units { for i in 0..<n { mean[i] += weight * unit[i] } }
        let meanNorm = Self.norm(mean)
        mean = meanNorm < tolerance ? units[0] : mean.map { $0 / meanNorm }
        for _ in 0..<iterations {
            var tangent = [Double](repeating: 0, count: n)
            for unit in units {
                var dot = 0.0
                for i in 0..<n { dot += mean[i] * unit[i] }
                dot = min(1, max(-1, dot))
                let theta = acos(dot)
                if theta < tolerance { continue }
                let scale = weight * theta / sin(theta)
                for i in 0..<n { tangent[i] += scale * (unit[i] - dot * mean[i]) }
            }
            let tangentNorm = Self.norm(tangent)
            if tangentNorm < tolerance { break }
            for i in 0..<n { mean[i] = cos(tangentNorm) * mean[i] + sin(tangentNorm) * (tangent[i] / tangentNorm) }
            let unitNorm = Self.norm(mean)
            if unitNorm > tolerance { mean = mean.map { $0 / unitNorm } }
        }
        let scale = norms.reduce(0) { $0 + alpha * $1 }
        return TensorMergeResult(merged: mean.map { Float(scale * $0) })
    }

    static func norm(_ values: [Double]) -> Double { values.reduce(0) { $0 + $1 * $1 }.squareRoot() }
}
