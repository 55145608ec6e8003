import AmalgamCore

/// One scalar a merge parameter takes: a number or a switch.
public enum ParameterScalar: Sendable, Equatable, CustomStringConvertible {
    case number(Double)
    case flag(Bool)

    public var number: Double? {
        if case .number(let value) = self { return value }
        return nil
    }

    public var flag: Bool? {
        if case .flag(let value) = self { return value }
        return nil
    }

    public var description: String {
        switch self {
        case .number(let value): value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : "\(value)"
        case .flag(let value): "\(value)"
        }
    }
}

/// A parameter as mergekit configurations give it: one value, a gradient over the layers
/// (`[0, 0.5, 1]`), or a list of values filtered by tensor name (`{filter: self_attn,
/// value: 0.5}`, a last `{value: ...}` for everything else).
public indirect enum ParameterSetting: Sendable, Equatable {
    case scalar(ParameterScalar)
    /// Values interpolated linearly over the layer fraction t in [0, 1].
    case gradient([ParameterScalar])
    /// The first entry whose filter is nil, `*`, or a substring of the tensor's name wins.
    case filtered([Filtered])

    public struct Filtered: Sendable, Equatable {
        public var filter: String?
        public var value: ParameterSetting

        public init(filter: String?, value: ParameterSetting) {
            self.filter = filter
            self.value = value
        }
    }

    /// The value for tensor `name` at layer fraction `t`, as mergekit's `evaluate_setting`:
    /// a gradient of n values gives, at `s = t (n - 1)`, `(1 - f) v[floor(s)] + f v[floor(s) + 1]`
    /// with `f = s - floor(s)` (switches take `v[floor(s)]`); nil when no filter matches.
    public func value(forTensor name: String, t: Double) -> ParameterScalar? {
        switch self {
        case .scalar(let value):
            return value
        case .gradient(let values):
            guard !values.isEmpty else { return nil }
            let scaled = t * Double(values.count - 1)
            let lower = Int(scaled)
            guard values.allSatisfy({ $0.number != nil }) else { return values[lower] }
            let upper = min(values.count - 1, lower + 1)
            let fraction = scaled - Double(lower)
            return .number((1 - fraction) * values[lower].number! + fraction * values[upper].number!)
        case .filtered(let entries):
            for entry in entries where entry.filter == nil || entry.filter == "*" || name.contains(entry.filter!) {
                return entry.value.value(forTensor: name, t: t)
            }
            return nil
        }
    }
}

/// Where a method's parameter is given: once for the merge, or per input model.
public enum ParameterScope: Sendable {
    /// One value per tensor (`lambda`, `normalize`, slerp's `t`).
    case shared
    /// Per input, the base included when it is an input (linear's `weight`).
    case input
    /// Per input other than the base (`weight`, `density` of task-arithmetic methods).
    case nonBase
}

/// A parameter a method takes: its name, scope and default (nil: required).
public struct ParameterSpec: Sendable {
    public var name: String
    public var scope: ParameterScope
    public var defaultValue: ParameterScalar?

    public init(_ name: String, _ scope: ParameterScope, default defaultValue: ParameterScalar?) {
        self.name = name
        self.scope = scope
        self.defaultValue = defaultValue
    }
}

/// Parameters as a configuration gives them: for the whole merge and per input model, in
/// the order of precedence mergekit uses (the model's own, then the merge's).
public struct MergeParameters: Sendable {
    /// The top-level `parameters`.
    public var shared: [String: ParameterSetting] = [:]
    /// Per source, its `parameters` (in source order).
    public var sources: [[String: ParameterSetting]] = []
    /// The base model's own `parameters` (when it is listed among the models).
    public var base: [String: ParameterSetting] = [:]
    /// Settings consulted after `shared`: the whole merge's, when `shared` is a slice's.
    public var outer: [String: ParameterSetting] = [:]

    public init(
        shared: [String: ParameterSetting] = [:], sources: [[String: ParameterSetting]] = [],
        base: [String: ParameterSetting] = [:]
    ) {
        self.shared = shared
        self.sources = sources
        self.base = base
    }

    public var isEmpty: Bool { shared.isEmpty && outer.isEmpty && base.isEmpty && sources.allSatisfy(\.isEmpty) }

    /// The value of `spec` for one model (`own`: its settings, nil for shared parameters).
    public func resolve(
        _ spec: ParameterSpec, own: [String: ParameterSetting]?, tensor: String, t: Double, model: String
    ) throws(AmalgamError) -> ParameterScalar {
        for scope in [own, shared, outer].compactMap({ $0 }) {
            if let setting = scope[spec.name], let value = setting.value(forTensor: tensor, t: t) { return value }
        }
        guard let value = spec.defaultValue else {
            throw AmalgamError(.usage, "missing the parameter '\(spec.name)' for \(model) (tensor \(tensor))")
        }
        return value
    }
}

/// The parameters of one tensor, resolved: shared ones, and per input of the method.
public struct ResolvedParameters: Sendable {
    public var shared: [String: ParameterScalar] = [:]
    /// Per input, in the order the method receives its inputs.
    public var inputs: [[String: ParameterScalar]] = []

    public init(shared: [String: ParameterScalar] = [:], inputs: [[String: ParameterScalar]] = []) {
        self.shared = shared
        self.inputs = inputs
    }

    public func number(_ name: String) -> Double? { shared[name]?.number }
    public func flag(_ name: String) -> Bool? { shared[name]?.flag }
    public func number(_ name: String, input: Int) -> Double? {
        input < inputs.count ? inputs[input][name]?.number : nil
    }
}

/// The parameters of one slice of the output's layers (mergekit's `slices`): they apply to
/// its layers, whose layer fraction t runs from 0 at its first layer to 1 at its last.
public struct ParameterSlice: Sendable {
    /// Output layers `[start, end)`.
    public var layers: Range<Int>
    public var parameters: MergeParameters

    public init(layers: Range<Int>, parameters: MergeParameters) {
        self.layers = layers
        self.parameters = parameters
    }
}
