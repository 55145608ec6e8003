import AmalgamCore
import Testing

@testable import MergeKernel

struct MergeParametersTests {
    @Test(
        "gradients interpolate over the layer fraction as mergekit's evaluate_setting",
        arguments: [(0.0, 0.0), (1.0 / 3, 1.0 / 3), (0.5, 0.5), (0.75, 0.75), (1.0, 1.0)])
    func gradient(t: Double, expected: Double) throws {
        // [0, 0.5, 1] is linear in t: s = 2t, (1 - f) v[floor(s)] + f v[floor(s) + 1] = t.
        let setting = ParameterSetting.gradient([.number(0), .number(0.5), .number(1)])
        let value = try #require(setting.value(forTensor: "model.layers.1.mlp.up_proj.weight", t: t)?.number)
        #expect(abs(value - expected) < 1e-15)
        // Switches take the value at floor(s).
        let switches = ParameterSetting.gradient([.flag(false), .flag(true)])
        #expect(switches.value(forTensor: "x", t: t) == .flag(t == 1))
    }

    @Test("filters match by substring in order; a value without filter is the default; no match is nil")
    func filters() {
        let setting = ParameterSetting.filtered([
            .init(filter: "self_attn", value: .scalar(.number(0.3))),
            .init(filter: "mlp", value: .gradient([.number(1), .number(0)])),
        ])
        #expect(setting.value(forTensor: "model.layers.0.self_attn.q_proj.weight", t: 0.5) == .number(0.3))
        #expect(setting.value(forTensor: "model.layers.3.mlp.down_proj.weight", t: 0.25) == .number(0.75))
        #expect(setting.value(forTensor: "model.norm.weight", t: 0) == nil)
        let withDefault = ParameterSetting.filtered([
            .init(filter: "mlp", value: .scalar(.number(1))), .init(filter: nil, value: .scalar(.flag(true))),
        ])
        #expect(withDefault.value(forTensor: "lm_head.weight", t: 0) == .flag(true))
    }

    @Test("a model's own setting wins over the merge's, then the default; a required one missing is named")
    func precedence() throws {
        let parameters = MergeParameters(
            shared: [
                "weight": .scalar(.number(0.5)),
                "density": .filtered([.init(filter: "mlp", value: .scalar(.number(0.2)))]),
            ],
            sources: [["weight": .scalar(.number(0.9))], [:]])
        let weight = ParameterSpec("weight", .nonBase, default: nil)
        let density = ParameterSpec("density", .nonBase, default: .number(1))
        #expect(
            try parameters.resolve(weight, own: parameters.sources[0], tensor: "x", t: 0, model: "a") == .number(0.9))
        #expect(
            try parameters.resolve(weight, own: parameters.sources[1], tensor: "x", t: 0, model: "b") == .number(0.5))
        #expect(try parameters.resolve(density, own: [:], tensor: "layers.0.mlp.w", t: 0, model: "b") == .number(0.2))
        #expect(try parameters.resolve(density, own: [:], tensor: "layers.0.attn.w", t: 0, model: "b") == .number(1))
        #expect {
            try MergeParameters().resolve(weight, own: [:], tensor: "x", t: 0, model: "b.safetensors")
        } throws: { error in
            (error as? AmalgamError)?.message == "missing the parameter 'weight' for b.safetensors (tensor x)"
        }
    }
}
