import AmalgamCore
import Dispatch
import LinearAlgebra

#if canImport(Glibc)
    import Glibc
#endif

/// AdamW (PyTorch's form: decay, then the Adam step) with a cosine schedule without
/// warm-up over all steps, and global-norm gradient clipping.
struct AdamW {
    let options: TrainingOptions
    let totalSteps: Int
    private(set) var step = 0
    let beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8

    init(options: TrainingOptions, totalSteps: Int) {
        self.options = options
        self.totalSteps = max(totalSteps, 1)
    }

    /// The cosine schedule's factor at step `index` (0-based): 1 at the start, 0 at the end.
    func schedule(at index: Int) -> Double {
        0.5 * (1 + cos(Double.pi * Double(index) / Double(totalSteps)))
    }

    /// The learning rate of step `index` (0-based).
    func learningRate(at index: Int) -> Double { options.learningRate * schedule(at: index) }

    /// Clips, then updates every trainable parameter; returns the rate used.
    @discardableResult
    mutating func update(_ parameters: [Parameter]) -> Double {
        let trainable = parameters.filter(\.trainable)
        var squared: Double = 0
        for parameter in trainable {
            squared += SumOfSquares.of(parameter.gradient.elements)
        }
        let norm = squared.squareRoot()
        let clip: Float = norm > options.clipNorm ? Float(options.clipNorm / (norm + 1e-6)) : 1
        let rate = learningRate(at: step)
        // The head's rate follows the same schedule from its own start.
        let headRate = (options.headLearningRate ?? options.learningRate) * schedule(at: step)
        step += 1
        let correction1 = 1 - pow(beta1, Double(step))
        let correction2 = 1 - pow(beta2, Double(step))
        let root2 = Float(correction2.squareRoot())
        let epsilon32 = Float(epsilon)
        let (b1, b2) = (Float(beta1), Float(beta2))
        for parameter in trainable {
            let ownRate = parameter.isHead ? headRate : rate
            let decay = Float(1 - ownRate * options.weightDecay)
            let stepSize = Float(ownRate / correction1)
            if parameter.firstMoment.isEmpty {
                parameter.firstMoment = [Float](repeating: 0, count: parameter.count)
                parameter.secondMoment = [Float](repeating: 0, count: parameter.count)
            }
            // One exclusive access per array, not one per element; large tensors in two halves.
            let count = parameter.count
            parameter.value.elements.withUnsafeMutableBufferPointer { values in
                parameter.firstMoment.withUnsafeMutableBufferPointer { first in
                    parameter.secondMoment.withUnsafeMutableBufferPointer { second in
                        parameter.gradient.elements.withUnsafeBufferPointer { gradient in
                            let (values, first, second, gradient) = (
                                UncheckedBuffer(values), UncheckedBuffer(first), UncheckedBuffer(second),
                                UncheckedBuffer(gradient)
                            )
                            let step: @Sendable (Range<Int>) -> Void = { range in
                                Self.step(
                                    range, values: values.base!, first: first.base!, second: second.base!,
                                    gradient: gradient.base!,
                                    constants: StepConstants(
                                        clip: clip, b1: b1, b2: b2, decay: decay, stepSize: stepSize, root2: root2,
                                        epsilon: epsilon32))
                            }
                            Parallel.ranges(count, step)
                        }
                    }
                }
            }
        }
        return rate
    }

    /// The per-element constants of one update.
    struct StepConstants {
        let clip: Float, b1: Float, b2: Float, decay: Float, stepSize: Float, root2: Float, epsilon: Float
    }

    /// One update of `range`, eight values at a time (the scalar loop did not vectorise); the
    /// same IEEE operations per element in the same order as the scalar tail, so the result
    /// does not depend on where a range starts.
    static func step(
        _ range: Range<Int>, values: UnsafeMutablePointer<Float>, first: UnsafeMutablePointer<Float>,
        second: UnsafeMutablePointer<Float>, gradient: UnsafeMutablePointer<Float>, constants c: StepConstants
    ) {
        typealias Lanes = SIMD8<Float>
        func load(_ pointer: UnsafeMutablePointer<Float>, _ index: Int) -> Lanes {
            UnsafeRawPointer(pointer + index).loadUnaligned(as: Lanes.self)
        }
        func store(_ value: Lanes, _ pointer: UnsafeMutablePointer<Float>, _ index: Int) {
            UnsafeMutableRawPointer(pointer + index).storeBytes(of: value, as: Lanes.self)
        }
        var index = range.lowerBound
        while index + 8 <= range.upperBound {
            let g = load(gradient, index) * c.clip
            let m = c.b1 * load(first, index) + (1 - c.b1) * g
            let v = c.b2 * load(second, index) + (1 - c.b2) * g * g
            store(m, first, index)
            store(v, second, index)
            store(
                load(values, index) * c.decay - c.stepSize * m / ((v.squareRoot() / c.root2) + c.epsilon), values, index
            )
            index += 8
        }
        while index < range.upperBound {
            let g = gradient[index] * c.clip
            let m = c.b1 * first[index] + (1 - c.b1) * g
            let v = c.b2 * second[index] + (1 - c.b2) * g * g
            first[index] = m
            second[index] = v
            values[index] = values[index] * c.decay - c.stepSize * m / ((v.squareRoot() / c.root2) + c.epsilon)
            index += 1
        }
    }
}
