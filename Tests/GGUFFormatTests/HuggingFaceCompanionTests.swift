import AmalgamCore
import Testing

@testable import GGUFFormat

/// config.json fields that change the computation, and the tokenizer pieces that move between
/// GGUF's and tokenizer.json's descriptions.
struct HuggingFaceCompanionTests {
    func config(_ metadata: Metadata, architecture: String) -> [String: JSONValue] {
        Dictionary(
            HuggingFaceConfig.computationParameters(metadata: metadata, architecture: architecture),
            uniquingKeysWith: { a, _ in a })
    }

    @Test("Gemma 3: the window, every sixth layer global, the local rope base, the query scale")
    func gemma3() {
        var metadata = Metadata()
        for (key, value): (String, MetadataValue) in [
            ("block_count", .u32(18)), ("embedding_length", .u32(640)), ("attention.head_count", .u32(4)),
            ("attention.key_length", .u32(256)), ("attention.sliding_window", .u32(512)),
        ] {
            metadata["gemma3.\(key)"] = value
        }
        let fields = config(metadata, architecture: "gemma3")
        #expect(fields["sliding_window"] == .integer(512) && fields["sliding_window_pattern"] == .integer(6))
        let layers = fields["layer_types"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(layers.count == 18)
        #expect(layers.indices.filter { layers[$0] == "full_attention" } == [5, 11, 17])
        #expect(
            fields["rope_local_base_freq"] == .number("10000.0") && fields["query_pre_attn_scalar"] == .integer(256))
        #expect(fields["final_logit_softcapping"] == .null && fields["attn_logit_softcapping"] == .null)
        // Back to GGUF: the window; the default local base is left out as llama.cpp's converter leaves it.
        var parameters = Metadata()
        parameters["sliding_window"] = .i64(512)
        parameters["rope_local_base_freq"] = .f64(10000)
        let back = HuggingFaceConfig.computationMetadata(fromConfig: parameters, architecture: "gemma3")
        #expect(back["gemma3.attention.sliding_window"] == .u32(512) && back["gemma3.rope.freq_base_swa"] == nil)
    }

    @Test("Gemma 2 without the keys gets llama.cpp's defaults: window 4096, caps 50 and 30, alternate layers")
    func gemma2Defaults() {
        var metadata = Metadata()
        metadata["gemma2.block_count"] = .u32(4)
        let fields = config(metadata, architecture: "gemma2")
        #expect(fields["sliding_window"] == .integer(4096))
        #expect(
            fields["attn_logit_softcapping"] == .number("50.0") && fields["final_logit_softcapping"] == .number("30.0"))
        #expect(
            fields["layer_types"]?.arrayValue?.compactMap(\.stringValue)
                == ["sliding_attention", "full_attention", "sliding_attention", "full_attention"])
    }

    @Test("rope scaling travels both ways")
    func ropeScaling() {
        var metadata = Metadata()
        metadata["llama.rope.scaling.type"] = .string("linear")
        metadata["llama.rope.scaling.factor"] = .f32(8)
        metadata["llama.rope.scaling.original_context_length"] = .u32(4096)
        let scaling = config(metadata, architecture: "llama")["rope_scaling"]
        #expect(scaling?["rope_type"] == .string("linear") && scaling?["factor"] == .number("8.0"))
        #expect(scaling?["original_max_position_embeddings"] == .integer(4096))
        var parameters = Metadata()
        parameters["rope_scaling.rope_type"] = .string("linear")
        parameters["rope_scaling.factor"] = .f64(8)
        parameters["rope_scaling.original_max_position_embeddings"] = .i64(4096)
        let back = HuggingFaceConfig.computationMetadata(fromConfig: parameters, architecture: "llama")
        #expect(back["llama.rope.scaling.type"] == .string("linear") && back["llama.rope.scaling.factor"] == .f32(8))
        #expect(back["llama.rope.scaling.original_context_length"] == .u32(4096))
    }

    @Test("merges from scores: every split into two pieces, ordered by the joined piece's score, then its halves'")
    func mergesFromScores() {
        let tokens = ["a", "b", "c", "ab", "bc", "abc", "ca"]
        let scores: [Double] = [0, 0, -1, -2, -1, -3, -9]
        let merges = SentencePieceMerges.merges(tokens: tokens, scores: scores)
        // bc (-1), ab (-2), abc (-3: a+bc before ab+c, as a and bc outscore ab and c), ca (-9).
        #expect(merges.map { "\($0.0) \($0.1)" } == ["b c", "a b", "a bc", "ab c", "c a"])
        // And back: each piece scores minus the rank of its first merge; the rest below them all.
        let back = SentencePieceMerges.scores(tokens: tokens, merges: merges)
        #expect(back == [-5, -5, -5, -1, 0, -2, -4])
    }

    @Test("pieces that are canonically equivalent but spelled apart stay apart")
    func exactPieces() throws {
        let composed = "\u{E9}"  // é
        let decomposed = "e\u{301}"  // e + combining acute
        let merges = SentencePieceMerges.merges(
            tokens: ["e", "\u{301}", composed, decomposed], scores: [0, 0, -1, -2])
        #expect(merges.map { [$0.0, $0.1] } == [["e", "\u{301}"]])
        // A tokenizer.json vocabulary holding both is not an object with a duplicate key.
        let json = Array(#"{"\#(composed)": 1, "\#(decomposed)": 2}"#.utf8)
        let parsed = try json.withUnsafeBytes { (bytes) throws(AmalgamError) in try JSONParser.parse(bytes) }
        #expect(parsed.objectValue?.count == 2)
    }

    @Test("WordPiece spelling: llama.cpp's word-start mark and tokenizer.json's continuation mark")
    func wordPieces() {
        #expect(["[CLS]", "\u{2581}hello", "llo"].map(WordPieceSpelling.huggingFace) == ["[CLS]", "hello", "##llo"])
        #expect(["[CLS]", "hello", "##llo"].map(WordPieceSpelling.llamaCpp) == ["[CLS]", "\u{2581}hello", "llo"])
        #expect(
            WordPieceSpelling.isLlamaCpp(["[PAD]", "\u{2581}a", "b"]) && !WordPieceSpelling.isLlamaCpp(["a", "##b"]))
    }
}
