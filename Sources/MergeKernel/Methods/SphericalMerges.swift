import AmalgamCore
import Foundation

/// Spherical interpolation of two vectors, shared by mergekit's `slerp` and `nuslerp`: the
/// angle from the f64 cosine of the two directions, the coefficients `sin((1-t)θ)/sin θ` and
/// `sin(tθ)/sin θ` in f32, or `1-t` and `t` when the vectors are (anti)parallel.
enum Spherical {
    /// The cosine of the angle between `a` and `b` (each vector's norm at most `eps` counts
    /// as 1), accumulated in f64.
    static func cosine(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>, eps: Double) -> Double {
        var aa = 0.0
        var bb = 0.0
        var ab = 0.0
        for (x, y) in zip(a, b) {
            aa += Double(x) * Double(x)
            bb += Double(y) * Double(y)
            ab += Double(x) * Double(y)
        }
        let na = aa.squareRoot() > eps ? aa.squareRoot() : 1
        let nb = bb.squareRoot() > eps ? bb.squareRoot() : 1
        return min(1, max(-1, ab / (na * nb)))
    }
}

/// mergekit's `slerp`: the base and one source interpolated on the sphere of the whole
/// tensor, `t` = 0 the base, `t` = 1 the source (a gradient over layers, filtered by name, as
/// any parameter); lerp when |cos| > 0.9995.
public struct SLERPMerge: MergeMethod {
    public static let dotThreshold = 0.9995

    public init() {}

    public var name: String { "slerp" }
    public var settings: [(key: String, value: JSONValue)] { [] }
    public var takesWeights: Bool { true }
    public var parameterSpecs: [ParameterSpec] { [ParameterSpec("t", .shared, default: nil)] }
    public var inputCount: ClosedRange<Int> { 1...1 }
    public var inputCountRule: String { "the base and exactly one other model" }

    public func merge(_ input: TensorMergeInput) throws -> TensorMergeResult {
        guard input.weights.count == 1 else {
            throw AmalgamError(.usage, "slerp merges the base with exactly one source (given \(input.weights.count))")
        }
        let t = Float(input.parameters.number("t") ?? 0)
        let a = input.base
        let b = input.weights[0]
        let dot = Float(Spherical.cosine(a[...], b[...], eps: 1e-8))
        let coefficientA: Float
        let coefficientB: Float
        if abs(Double(dot)) > Self.dotThreshold {
            coefficientA = 1 - t
            coefficientB = t
        } else {
            let theta = acosf(dot)
            let sinTheta = sinf(theta)
            coefficientA = sinf((1 - t) * theta) / sinTheta
            coefficientB = sinf(t * theta) / sinTheta
        }
        var merged = [Float](repeating: 0, count: a.count)
        for i in merged.indices { merged[i] = coefficientA * a[i] + coefficientB * b[i] }
        return TensorMergeResult(merged: merged)
    }
}

/// mergekit's `nuslerp`: two sources with weights, `t = w2 / (w1 + w2)` (0.5 when the sum is
/// about 0), interpolated on the sphere of their task vectors (with a base) or of their
/// weights (without one), over the flattened tensor (default), each row
/// (`nuslerp_flatten: false`) or each column (`nuslerp_row_wise: true`).
public struct NuSLERPMerge: MergeMethod {
    /// True when the configuration names no base: the first model stands in as the
    /// reference and the two inputs are its weights and the second model's.
    public let baseIsInput: Bool

    public init(withoutBase: Bool = false) { baseIsInput = withoutBase }

    public var name: String { "nuslerp" }
    public var inputCount: ClosedRange<Int> { 2...2 }
    public var inputCountRule: String { "exactly two models besides the base" }
    public var settings: [(key: String, value: JSONValue)] { [("base", .bool(!baseIsInput))] }
    public var takesWeights: Bool { true }
    public var parameterSpecs: [ParameterSpec] {
        [
            ParameterSpec("weight", baseIsInput ? .input : .nonBase, default: nil),
            ParameterSpec("nuslerp_row_wise", .shared, default: .flag(false)),
            ParameterSpec("nuslerp_flatten", .shared, default: .flag(true)),
        ]
    }

    public func merge(_ input: TensorMergeInput) throws -> TensorMergeResult {
        guard input.weights.count == 2 else {
            throw AmalgamError(
                .usage, "nuslerp merges exactly two models besides the base (given \(input.weights.count))")
        }
        let p = input.parameters
        let w0 = p.number("weight", input: 0) ?? 1
        let w1 = p.number("weight", input: 1) ?? 1
        let t = Float(abs(w0 + w1) < 1e-6 ? 0.5 : w1 / (w0 + w1))
        let origin: [Float]? = baseIsInput ? nil : input.base
        let v0 = origin.map { base in zip(input.weights[0], base).map { $0 - $1 } } ?? input.weights[0]
        let v1 = origin.map { base in zip(input.weights[1], base).map { $0 - $1 } } ?? input.weights[1]
        let n = v0.count
        let columns = input.shape.rank >= 2 ? input.shape.dimensions.last! : n
        let rows = n / max(1, columns)
        // The groups of elements interpolated together.
        let flatten = p.flag("nuslerp_flatten") ?? true
        let rowWise = p.flag("nuslerp_row_wise") ?? false
        var groups: [[Int]] = []
        if flatten || input.shape.rank < 2 {
            groups = [Array(0..<n)]
        } else if rowWise {
            groups = (0..<columns).map { column in (0..<rows).map { $0 * columns + column } }
        } else {
            groups = (0..<rows).map { row in Array(row * columns..<(row + 1) * columns) }
        }
        var result = [Float](repeating: 0, count: n)
        for group in groups {
            let a = ArraySlice(group.map { v0[$0] })
            let b = ArraySlice(group.map { v1[$0] })
            var aa = 0.0
            var bb = 0.0
            for (x, y) in zip(a, b) {
                aa += Double(x) * Double(x)
                bb += Double(y) * Double(y)
            }
            let na = max(aa.squareRoot(), 1e-7)
            let nb = max(bb.squareRoot(), 1e-7)
            var ab = 0.0
            for (x, y) in zip(a, b) { ab += Double(x) / na * (Double(y) / nb) }
            let cosine = Float(min(1, max(-1, ab)))
            let colinear = 1 - cosine * cosine <= 1e-16
            let theta = acosf(colinear ? Float(0) : cosine)
            let sinTheta = sinf(theta)
            for (k, index) in group.enumerated() {
                let x = a[a.startIndex + k]
                let y = b[b.startIndex + k]
                result[index] =
                    colinear ? (1 - t) * x + t * y : (sinf((1 - t) * theta) * x + sinf(t * theta) * y) / sinTheta
            }
        }
        if let origin { for i in result.indices { result[i] += origin[i] } }
        return TensorMergeResult(merged: result)
    }
}

/// mergekit's `multislerp`: barycentric interpolation on the hypersphere of the sources'
/// task vectors (with a base) or weights (without one): the unit vectors' weighted mean
/// direction, the weighted tangent vectors there, mapped back by the exponential map and
/// scaled by the weighted mean norm.
public struct MultiSLERPMerge: MergeMethod {
    public let baseIsInput: Bool

    public init(withoutBase: Bool = false) { baseIsInput = withoutBase }

    public var name: String { "multislerp" }
    public var settings: [(key: String, value: JSONValue)] { [("base", .bool(!baseIsInput))] }
    public var takesWeights: Bool { true }
    public var parameterSpecs: [ParameterSpec] {
        [
            ParameterSpec("weight", baseIsInput ? .input : .nonBase, default: nil),
            ParameterSpec("normalize_weights", .shared, default: .flag(true)),
            ParameterSpec("eps", .shared, default: .number(1e-8)),
        ]
    }

    public func merge(_ input: TensorMergeInput) throws -> TensorMergeResult {
        let origin: [Float]? = baseIsInput ? nil : input.base
        if input.weights.count == 1 { return TensorMergeResult(merged: input.weights[0]) }
        let p = input.parameters
        let eps = p.number("eps") ?? 1e-8
        let vectors = input.weights.map { values in origin.map { zip(values, $0).map { $0 - $1 } } ?? values }
        var weights = vectors.indices.map { p.number("weight", input: $0) ?? 1 }
        if p.flag("normalize_weights") ?? true {
            let total = weights.reduce(0, +)
            weights = weights.map { $0 / total }
        }
        let n = input.base.count
        let norms = vectors.map { MergeMath.norm($0) }
        var mean = [Double](repeating: 0, count: n)
        for (vector, (norm, weight)) in zip(vectors, zip(norms, weights)) {
            let scale = weight / (norm + eps)
            for i in 0..<n { mean[i] += Double(vector[i]) * scale }
        }
        let meanNorm = mean.reduce(0) { $0 + $1 * $1 }.squareRoot()
        var result = [Float](repeating: 0, count: n)
        if meanNorm < eps {
            guard vectors.count == 2 else {
                throw AmalgamError(
                    .invalidFormat,
                    "multislerp: the weighted mean of the unit task vectors is zero (antipodal sources with balancing weights); use other weights"
                )
            }
            for i in 0..<n {
                result[i] = Float(Double(vectors[0][i]) * weights[0] + Double(vectors[1][i]) * weights[1])
            }
        } else {
            for i in 0..<n { mean[i] /= meanNorm }
            var tangent = [Double](repeating: 0, count: n)
            for (vector, (norm, weight)) in zip(vectors, zip(norms, weights)) {
                var dot = 0.0
                for i in 0..<n { dot += Double(vector[i]) / (norm + eps) * mean[i] }
                for i in 0..<n { tangent[i] += weight * (Double(vector[i]) / (norm + eps) - dot * mean[i]) }
            }
            let tangentNorm = tangent.reduce(0) { $0 + $1 * $1 }.squareRoot() + eps
            let averageNorm = zip(norms, weights).reduce(0) { $0 + $1.0 * $1.1 }
            let along = cos(tangentNorm)
            let across = sin(tangentNorm) / tangentNorm
            for i in 0..<n { result[i] = Float((mean[i] * along + tangent[i] * across) * averageNorm) }
        }
        if let origin { for i in 0..<n { result[i] += origin[i] } }
        return TensorMergeResult(merged: result)
    }
}
