import AmalgamCore
import Foundation
import Synchronization
import TestSupport
import Testing

@testable import ONNXFormat

@Suite struct NameRecoveryTests {
    private func node(_ op: String, _ name: String, _ inputs: [String], transB: Int64? = nil) -> ONNXNode {
        ONNXNode(
            name: name, opType: op, inputs: inputs, outputs: ["out"], integers: transB.map { ["transB": $0] } ?? [:],
            constant: nil, subgraphs: [])
    }

    @Test(arguments: [
        ("encoder.layer.0.attention.self.query.bias", true), ("onnx::MatMul_12", false), ("val_8", false),
        ("a..b", false), ("weight", false), ("a.b-c", false), ("model.0.auto_model.x", true),
    ])
    func stateDictNames(name: String, expected: Bool) {
        #expect(NameRecovery.isStateDictName(name) == expected)
    }

    @Test func matMulGemmAndAddAreRecovered() {
        let graph = ONNXGraph(
            name: "g",
            nodes: [
                node(
                    "MatMul", "/model/model.0/auto_model/encoder/layer.0/attention/self/query/MatMul",
                    ["x", "onnx::MatMul_1"]),
                node(
                    "Add", "/model/model.0/auto_model/encoder/layer.0/attention/self/query/Add",
                    ["model.0.auto_model.encoder.layer.0.attention.self.query.bias", "y"]),
                node("Gemm", "/classifier/Gemm", ["h", "onnx::Gemm_2", "onnx::Gemm_3"], transB: 1),
                node("Gemm", "/pooler/dense/Gemm", ["h", "onnx::Gemm_4"]),
                node("Add", "/head/Add", ["z", "onnx::Add_5"]),
            ], initializers: [])
        let tensors: [(name: String, rank: Int)] = [
            ("onnx::MatMul_1", 2), ("model.0.auto_model.encoder.layer.0.attention.self.query.bias", 1),
            ("onnx::Gemm_2", 2), ("onnx::Gemm_3", 1), ("onnx::Gemm_4", 2), ("onnx::Add_5", 1), ("val_9", 1),
        ]
        let result = NameRecovery.recover(graph: graph, tensors: tensors)
        #expect(
            result.names["onnx::MatMul_1"]
                == .init(canonical: "model.0.auto_model.encoder.layer.0.attention.self.query.weight", transposed: true))
        #expect(result.names["onnx::Gemm_2"] == .init(canonical: "classifier.weight", transposed: false))
        #expect(result.names["onnx::Gemm_3"] == .init(canonical: "classifier.bias", transposed: false))
        #expect(result.names["onnx::Gemm_4"] == .init(canonical: "pooler.dense.weight", transposed: true))
        #expect(result.names["onnx::Add_5"] == .init(canonical: "head.bias", transposed: false))
        #expect(result.names["val_9"] == .init(canonical: "val_9", transposed: false))
        #expect(result.removedPrefix == nil)  // classifier.*, pooler.* do not share it
        #expect(result.renamedThroughGraph == 5)
    }

    @Test("a MatMul without a path is named by the bias added to its product")
    func biasNamesTheLayer() {
        let matmul = ONNXNode(
            name: "node_MatMul_48", opType: "MatMul", inputs: ["h", "val_49"], outputs: ["val_50"], integers: [:],
            constant: nil, subgraphs: [])
        let add = ONNXNode(
            name: "node_linear", opType: "Add", inputs: ["val_50", "inner.encoder.layer.0.attention.self.query.bias"],
            outputs: ["y"], integers: [:], constant: nil, subgraphs: [])
        let graph = ONNXGraph(name: "g", nodes: [matmul, add], initializers: [])
        let result = NameRecovery.recover(
            graph: graph,
            tensors: [("val_49", 2), ("inner.encoder.layer.0.attention.self.query.bias", 1), ("inner.embeddings.x", 1)])
        #expect(
            result.names["val_49"] == .init(canonical: "encoder.layer.0.attention.self.query.weight", transposed: true))
        #expect(result.removedPrefix == "inner.")
    }

    @Test func collidingNamesKeepTheirSpelling() {
        let graph = ONNXGraph(
            name: "g", nodes: [node("MatMul", "/dense/MatMul", ["x", "onnx::MatMul_1"])], initializers: [])
        let result = NameRecovery.recover(graph: graph, tensors: [("onnx::MatMul_1", 2), ("dense.weight", 2)])
        #expect(result.names["onnx::MatMul_1"]?.canonical == "onnx::MatMul_1")
    }

    @Test(
        arguments: [
            (["inner.embeddings.x", "inner.encoder.y"], "inner."),
            (["model.0.auto_model.embeddings.x", "model.0.auto_model.encoder.y"], "model.0.auto_model."),
            (["0.auto_model.a.b", "0.auto_model.c"], "0.auto_model."),
            (["module.a", "module.b.c"], "module."),
            (["bert.embeddings.x", "bert.encoder.y"], nil),
            (["inner.a", "other.b"], nil),
            (["inner.a"], "inner."),
        ] as [([String], String?)])
    func wrapperPrefixes(names: [String], expected: String?) {
        #expect(NameRecovery.wrapperPrefix(of: names) == expected)
    }
}
