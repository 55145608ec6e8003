import AmalgamCore

/// What `--quant` asks for: one type for every weight (`q4_k`, like `llama-quantize --pure`),
/// or one of llama.cpp's K-quant file types (`q4_k_m`...), a main type with llama-quantize's
/// per-tensor rules: which weights get more bits, the output's and the token embedding's
/// type, and the fallback for rows that are not whole blocks. The rules are llama.cpp's
/// (`llama_tensor_get_type`), so a file matches llama-quantize's tensor for tensor.
enum GGUFQuantization: Sendable, Equatable {
    case uniform(GGMLType, fileType: UInt32)
    case mixture(GGUFMixture)

    /// `--quant` values and the `general.file_type` (llama_ftype) each implies.
    static let uniformChoices: [(name: String, type: GGMLType, fileType: UInt32)] = [
        ("f32", .f32, 0), ("f16", .f16, 1), ("bf16", .bf16, 32), ("q8_0", .q8_0, 7), ("q4_0", .q4_0, 2),
        ("q4_1", .q4_1, 3), ("q5_0", .q5_0, 8), ("q5_1", .q5_1, 9), ("q3_k", .q3_K, 11), ("q4_k", .q4_K, 14),
        ("q5_k", .q5_K, 16),
        ("q6_k", .q6_K, 18),
    ]

    static var names: [String] { uniformChoices.map(\.name) + GGUFMixture.allCases.map(\.rawValue) }

    /// - Throws: `.usage` naming the accepted values.
    init?(_ text: String?) throws(AmalgamError) {
        guard let text else { return nil }
        let name = text.lowercased()
        if let choice = Self.uniformChoices.first(where: { $0.name == name }) {
            self = .uniform(choice.type, fileType: choice.fileType)
        } else if let mixture = GGUFMixture(rawValue: name) {
            self = .mixture(mixture)
        } else {
            throw AmalgamError(.usage, "--quant \(text) is not one of \(Self.names.joined(separator: ", "))")
        }
    }

    var fileType: UInt32 {
        switch self {
        case .uniform(_, let fileType): fileType
        case .mixture(let mixture): mixture.fileType
        }
    }

    /// llama-quantize refuses this file type without an importance matrix (Q2_K_S).
    var needsImportance: Bool { self == .mixture(.q2KS) }

    /// The type the file is mostly made of.
    var mainType: GGMLType {
        switch self {
        case .uniform(let type, _): type
        case .mixture(let mixture): mixture.mainType
        }
    }

    /// The requested type of every tensor, by GGUF name in file order (nil: not quantised,
    /// it keeps its type). `rules` applies llama-quantize's choice of which tensors it
    /// quantises (architectures llama.cpp knows); without it every tensor of two or more
    /// dimensions is. `importance`: an importance matrix is given (some rules depend on it).
    /// The fallback for rows that are not whole blocks is applied after.
    func requestedTypes(
        _ tensors: [(name: String, shape: [Int])], layers: Int, groupedQueries: Int = 1, importance: Bool = false,
        rules: Bool
    ) -> [GGMLType?] {
        var state = GGUFMixtureState(
            tensors.map(\.name), layers: layers, groupedQueries: groupedQueries, importance: importance)
        var types = [GGMLType?](repeating: nil, count: tensors.count)
        // llama.cpp counts layers in its own order (block by block, numerically), whatever
        // order the file lists them in (`blk.10` before `blk.2` in many converted files).
        let order = tensors.indices.sorted { a, b in
            let (x, y) = (Self.block(tensors[a].name), Self.block(tensors[b].name))
            return x != y ? x < y : a < b
        }
        for index in order {
            let (name, shape) = tensors[index]
            guard shape.count >= 2, !rules || GGUFMixture.isQuantised(name) else { continue }
            let rowLength = shape.last ?? 1
            switch self {
            case .uniform(let type, _):
                types[index] = type.plainDType == nil ? Self.fallback(type, rowLength: rowLength) : type
            case .mixture(let mixture):
                types[index] = Self.fallback(
                    mixture.type(of: name, rowLength: rowLength, state: &state), rowLength: rowLength)
            }
        }
        return types
    }

    /// N of a `blk.N.` name; -1 for tensors outside the blocks (they come first).
    static func block(_ name: String) -> Int {
        guard name.hasPrefix("blk.") else { return -1 }
        return Int(name.dropFirst(4).prefix { $0 != "." }) ?? -1
    }

    /// llama.cpp's fallback for a row length that is not a whole number of `type`'s blocks:
    /// a type with 32-element blocks of about as many bits (Q4_K → Q5_0, Q5_K → Q5_1, Q6_K →
    /// Q8_0, Q2_K/Q3_K → Q4_0, the 256-block IQ types → IQ4_NL), F16 when that does not fit
    /// either (or the type already has 32-element blocks).
    static func fallback(_ type: GGMLType, rowLength: Int) -> GGMLType {
        guard rowLength % type.blockLayout.elements != 0 else { return type }
        let replacement: GGMLType
        switch type {
        case .iq1_S, .iq1_M, .iq2_XXS, .iq2_XS, .iq2_S, .iq3_XXS, .iq3_S, .iq4_XS: replacement = .iq4_NL
        case .q2_K, .q3_K, .tq1_0, .tq2_0: replacement = .q4_0
        case .q4_K: replacement = .q5_0
        case .q5_K: replacement = .q5_1
        case .q6_K: replacement = .q8_0
        default: replacement = type
        }
        return rowLength % replacement.blockLayout.elements == 0 ? replacement : .f16
    }
}

/// llama.cpp's file types that Amalgam writes: the K-quant mixtures (Q2_K, Q2_K_S to Q5_K_M) and
/// the 4-bit non-linear ones (IQ4_NL, IQ4_XS). (llama-quantize's Q2_K is a mixture too: there is
/// no `--pure` Q2_K here.)
enum GGUFMixture: String, Sendable, CaseIterable {
    case q2K = "q2_k"
    case q2KS = "q2_k_s"
    case q3KS = "q3_k_s"
    case q3KM = "q3_k_m"
    case q4KS = "q4_k_s"
    case q4KM = "q4_k_m"
    case q5KS = "q5_k_s"
    case q5KM = "q5_k_m"
    case iq4NL = "iq4_nl"
    case iq4XS = "iq4_xs"

    var mainType: GGMLType {
        switch self {
        case .q2K, .q2KS: .q2_K
        case .q3KS, .q3KM: .q3_K
        case .q4KS, .q4KM: .q4_K
        case .q5KS, .q5KM: .q5_K
        case .iq4NL: .iq4_NL
        case .iq4XS: .iq4_XS
        }
    }

    /// llama_ftype.
    var fileType: UInt32 {
        switch self {
        case .q2K: 10
        case .q2KS: 21
        case .q3KS: 11
        case .q3KM: 12
        case .q4KS: 14
        case .q4KM: 15
        case .q5KS: 16
        case .q5KM: 17
        case .iq4NL: 25
        case .iq4XS: 30
        }
    }

    /// What llama-quantize quantises: weights (names ending in `weight`) of two or more
    /// dimensions, except norms, expert gates, position and token-type embeddings and a few
    /// small tables.
    static func isQuantised(_ name: String) -> Bool {
        guard name.hasSuffix("weight") else { return false }
        let kept = [
            "_norm.weight", "ffn_gate_inp.weight", "ssm_conv1d", "attn_rel_b.weight", "time_mix_first.weight",
            "altup", "laurel", "per_layer_model_proj", "shortconv.conv.weight",
        ]
        return !kept.contains { name.contains($0) } && name != "position_embd.weight" && name != "token_types.weight"
    }

    /// llama.cpp's tensor categories.
    enum Category {
        case output, tokenEmbedding, attentionValue, attentionKey, attentionQuery, attentionOutput
        case feedForwardUp, feedForwardGate, feedForwardDown, other

        init(_ name: String) {
            if name == "output.weight" {
                self = .output
            } else if name == "token_embd.weight" || name == "per_layer_token_embd.weight" {
                self = .tokenEmbedding
            } else if name.contains("attn_qkv.weight") || name.contains("attn_kv_b.weight")
                || name.contains("attn_v.weight")
            {
                self = .attentionValue
            } else if name.contains("attn_k.weight") {
                self = .attentionKey
            } else if name.contains("attn_q.weight") {
                self = .attentionQuery
            } else if name.contains("attn_output.weight") {
                self = .attentionOutput
            } else if name.contains("ffn_up") {
                self = .feedForwardUp
            } else if name.contains("ffn_gate") {
                self = .feedForwardGate
            } else if name.contains("ffn_down") {
                self = .feedForwardDown
            } else {
                self = .other
            }
        }
    }

    /// More bits for the first and last eighth of the layers and every third in between.
    static func usesMoreBits(_ layer: Int, of layers: Int) -> Bool {
        layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2
    }

    /// The tensor's type under this mixture (before the fallback), advancing the counters.
    func type(of name: String, rowLength: Int, state: inout GGUFMixtureState) -> GGMLType {
        var type = mainType
        switch Category(name) {
        case .output:
            type = Self.outputType(mainType, rowLength: rowLength)
        case .tokenEmbedding:
            // Shared with the output when the model has none: quantised as the output is.
            if state.tiedEmbeddings { type = Self.outputType(mainType, rowLength: rowLength) }
        case .attentionValue:
            switch self {
            case .q4KM, .q5KM:
                if Self.usesMoreBits(state.attentionValue, of: state.attentionValues) { type = .q6_K }
            case .q4KS:
                if state.attentionValue < 4 { type = .q5_K }
            case .iq4NL, .iq4XS:
                if state.groupedQueries >= 4 { type = .q5_K }
            case .q3KM:
                type = state.attentionValue < 2 ? .q5_K : .q4_K
            case .q2K:
                type = state.groupedQueries >= 4 ? .q4_K : .q3_K
            case .q2KS:
                if state.groupedQueries >= 4 { type = .q4_K }
            case .q5KS, .q3KS: break
            }
            state.attentionValue += 1
        case .feedForwardDown:
            let (layer, layers) = (state.feedForwardDown, state.layers)
            switch self {
            case .q4KM, .q5KM:
                if Self.usesMoreBits(layer, of: layers) { type = .q6_K }
            case .q4KS:
                if layer < layers / 8 { type = .q5_K }
            case .iq4NL, .iq4XS:
                if layer < layers / 8 && !state.importance { type = .q5_K }
            case .q2K:
                type = .q3_K
            case .q2KS:
                if layer < layers / 8 { type = .q4_K }
            case .q3KM:
                // Falcon's exception (Q3_K between the use_more_bits layers) is for an architecture
                // Amalgam has no table for.
                type = layer < layers / 16 ? .q5_K : .q4_K
            case .q5KS, .q3KS: break
            }
            state.feedForwardDown += 1
        case .attentionOutput:
            if self == .q3KM { type = .q4_K }
            if self == .q2K { type = .q3_K }
        default:
            break
        }
        return type
    }

    /// The output projection: Q8_0 when its rows are not whole blocks of the main type, else Q6_K.
    static func outputType(_ main: GGMLType, rowLength: Int) -> GGMLType {
        rowLength % main.blockLayout.elements != 0 ? .q8_0 : .q6_K
    }
}

/// The counters llama-quantize keeps while it walks the tensors.
struct GGUFMixtureState {
    let attentionValues: Int
    let layers: Int
    /// Query heads per key-value head (llama.cpp's n_gqa).
    let groupedQueries: Int
    /// No `output.weight`: the token embedding is the output too.
    let tiedEmbeddings: Bool
    /// An importance matrix is given (llama.cpp's has_imatrix).
    let importance: Bool
    var attentionValue = 0
    var feedForwardDown = 0

    init(_ names: [String], layers: Int, groupedQueries: Int = 1, importance: Bool = false) {
        self.importance = importance
        attentionValues = names.filter { GGUFMixture.Category($0) == .attentionValue }.count
        tiedEmbeddings = !names.contains("output.weight")
        self.layers = layers
        self.groupedQueries = groupedQueries
    }
}
