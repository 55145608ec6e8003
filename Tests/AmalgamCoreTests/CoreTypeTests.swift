import Testing

@testable import AmalgamCore

#if canImport(Glibc)
    import Glibc
#endif

struct ShapeTests {
    @Test func counts() throws {
        #expect(try Shape(checking: []).elementCount == 1)
        #expect(try Shape(checking: [0, 3]).elementCount == 0)
        #expect(try Shape(checking: [2, 3, 4]).byteCount(elementBytes: 2) == 48)
    }

    @Test(
        "overflowing shapes are errors",
        arguments: [
            [UInt64(1) << 32, UInt64(1) << 32], [UInt64.max], [UInt64(1) << 62, 4],
            [0, UInt64(1) << 40, UInt64(1) << 40],
        ])
    func overflow(dims: [UInt64]) {
        #expect(throws: AmalgamError.self) { try Shape(checking: dims) }
    }

    @Test func byteOverflow() throws {
        let shape = try Shape(checking: [UInt64(1) << 31, UInt64(1) << 31])
        #expect(throws: AmalgamError.self) { try shape.byteCount(elementBytes: 4) }
    }
}

struct ByteSizeTests {
    @Test func parse() {
        #expect(ByteSize.parse("5GB") == 5_000_000_000)
        #expect(ByteSize.parse("500MB") == 500_000_000)
        #expect(ByteSize.parse("2GiB") == 2 << 30)
        #expect(ByteSize.parse("1.5 kb") == 1500)
        #expect(ByteSize.parse("4096") == 4096)
        #expect(ByteSize.parse("0") == nil)
        #expect(ByteSize.parse("-1MB") == nil)
        #expect(ByteSize.parse("lots") == nil)
        #expect(ByteSize.parse("1e30") == nil)
    }

    @Test func format() {
        #expect(ByteSize.format(912) == "912 B")
        #expect(ByteSize.format(1_500_000_000) == "1.50 GB")
        #expect(ByteSize.formatFixed(-0.004, digits: 2) == "0.00")
        #expect(ByteSize.formatFixed(2.345, digits: 1) == "2.3")
    }
}

struct LayerGroupingTests {
    @Test(
        "roles and blocks from canonical names",
        arguments: [
            ("model.layers.3.self_attn.q_proj.weight", 3, TensorRole.attentionQuery),
            ("model.layers.0.mlp.down_proj.weight", 0, .ffnDown),
            ("model.layers.11.post_attention_layernorm.weight", 11, .norm),
            ("encoder.layer.5.attention.self.key.bias", 5, .attentionKey),
            ("encoder.layer.5.attention.output.dense.weight", 5, .attentionOutput),
            ("encoder.layer.5.intermediate.dense.weight", 5, .ffnUp),
            ("encoder.layer.5.output.dense.weight", 5, .ffnDown),
            ("embeddings.word_embeddings.weight", nil, .tokenEmbedding),
            ("embeddings.position_embeddings.weight", nil, .positionEmbedding),
            ("h.2.attn.c_attn.weight", 2, .attentionQKV),
            ("h.2.mlp.c_proj.weight", 2, .ffnDown),
            ("lm_head.weight", nil, .outputHead),
            ("layers.2.weight", 2, .other),
        ] as [(String, Int?, TensorRole)])
    func roles(name: String, block: Int?, role: TensorRole) {
        let position = LayerPosition(name: name)
        #expect(position.block == block)
        #expect(position.role == role)
    }

    @Test func grouping() throws {
        let names = ["embed.weight", "layers.0.a", "layers.0.b", "layers.1.a", "norm.weight"]
        let graph = try ModelGraph(tensors: names.map { Tensor(name: $0, shape: [1], floats: [0]) })
        #expect(graph.layers.map(\.block) == [nil, 0, 1, nil])
        #expect(graph.layers[1].members.map(\.name) == ["layers.0.a", "layers.0.b"])
        #expect(throws: AmalgamError.self) {
            try ModelGraph(tensors: [
                Tensor(name: "x", shape: [1], floats: [0]), Tensor(name: "x", shape: [1], floats: [1]),
            ])
        }
    }

    @Test func metadataOrder() {
        var metadata = Metadata()
        metadata["b"] = .u32(1)
        metadata["a"] = .string("x")
        metadata["b"] = .f32(2.5)
        #expect(metadata.keys == ["b", "a"])
        #expect(metadata["b"]?.description == "2.5")
        metadata["b"] = nil
        #expect(metadata.keys == ["a"] && metadata["a"]?.stringValue == "x")
    }
}

struct OutputSetTests {
    static func scratchFolder() -> String {
        var template = Array("/tmp/amalgam-test-XXXXXX".utf8CString)
        let path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        return path
    }

    @Test("nothing appears until commit; an abandoned output set leaves no file")
    func atomic() throws {
        let folder = Self.scratchFolder()
        do {
            let outputs = OutputSet(overwrite: false)
            let file = try outputs.create(folder + "/a.bin")
            try file.write([1, 2, 3])
            #expect(FileIdentity.of(path: folder + "/a.bin") == nil)
            #expect(FileSystem.list(folder).count == 1)  // only the hidden temporary
        }
        #expect(FileSystem.list(folder).isEmpty)
        let outputs = OutputSet(overwrite: false)
        try outputs.create(folder + "/a.bin").write([UInt8](repeating: 7, count: 3 << 20))
        try outputs.commit()
        #expect(FileSystem.list(folder) == ["a.bin"])
        let mapped = try MappedFile(path: folder + "/a.bin")
        #expect(mapped.size == 3 << 20 && mapped.region.bytes.allSatisfy { $0 == 7 })
    }

    @Test("existing outputs need overwrite; inputs are never overwritten")
    func refusals() throws {
        let folder = Self.scratchFolder()
        let outputs = OutputSet(overwrite: false)
        try outputs.create(folder + "/x").write([1])
        try outputs.commit()
        #expect(throws: AmalgamError.self) { try OutputSet(overwrite: false).create(folder + "/x") }
        let identity = FileIdentity.of(path: folder + "/x")!
        do {
            _ = try OutputSet(overwrite: true, protecting: [identity]).create(folder + "/x")
            Issue.record("overwrote an input")
        } catch {
            #expect(error.message == "refusing to overwrite an input file")
        }
        let replacing = OutputSet(overwrite: true)
        try replacing.create(folder + "/x").write([9, 9])
        try replacing.commit()
        #expect(try MappedFile(path: folder + "/x").region.bytes == [9, 9])
    }
}
