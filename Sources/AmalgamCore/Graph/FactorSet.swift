/// The low-rank factors `D = U diag(S) Vᵀ` of a merge's update to each merged matrix: what
/// `merge --factors` writes and Stage 2 (`tune`) trains in.
///
/// File schema (any format; safetensors by default), per matrix `NAME` of shape `[m, n]`
/// and rank `r`: `NAME.U` `[m, r]`, `NAME.S` `[r]`, `NAME.V` `[n, r]`, f32, singular values
/// in decreasing order; metadata `amalgam.factors_of` (the merged model) and
/// `amalgam.merge_method`.
public struct FactorSet: Sendable {
    /// One matrix's factors, row-major.
    public struct Factors: Sendable {
        public let rows: Int
        public let columns: Int
        public let rank: Int
        /// `rows x rank`.
        public let u: [Float]
        public let s: [Float]
        /// `columns x rank`.
        public let v: [Float]

        public init(rows: Int, columns: Int, u: [Float], s: [Float], v: [Float]) {
            precondition(u.count == rows * s.count && v.count == columns * s.count, "factor sizes disagree")
            self.rows = rows
            self.columns = columns
            self.rank = s.count
            self.u = u
            self.s = s
            self.v = v
        }
    }

    /// Matrices in model order.
    public private(set) var matrices: [(name: String, factors: Factors)] = []
    private var positions: [String: Int] = [:]

    public init() {}

    /// Adds the factors of matrix `name` (replacing earlier ones).
    public mutating func add(_ factors: Factors, for name: String) {
        if let position = positions[name] {
            matrices[position].factors = factors
        } else {
            positions[name] = matrices.count
            matrices.append((name, factors))
        }
    }

    public subscript(name: String) -> Factors? { positions[name].map { matrices[$0].factors } }

    public var isEmpty: Bool { matrices.isEmpty }

    /// The factors as tensors under the file schema's names.
    public func graph(metadata: Metadata = Metadata()) throws -> ModelGraph {
        var tensors: [Tensor] = []
        for (name, factors) in matrices {
            tensors.append(Tensor(name: name + ".U", shape: [factors.rows, factors.rank], floats: factors.u))
            tensors.append(Tensor(name: name + ".S", shape: [factors.rank], floats: factors.s))
            tensors.append(Tensor(name: name + ".V", shape: [factors.columns, factors.rank], floats: factors.v))
        }
        return try ModelGraph(tensors: tensors, metadata: metadata)
    }

    /// Reads factors written under the schema's names; every `NAME.U` needs its `.S` and `.V`
    /// with fitting shapes. Other tensors are refused.
    public init(graph: ModelGraph) throws {
        for tensor in graph.tensors {
            let name = tensor.name
            guard name.hasSuffix(".U") || name.hasSuffix(".S") || name.hasSuffix(".V") else {
                throw AmalgamError(
                    .invalidFormat, "is not a factor (NAME.U, NAME.S or NAME.V): not a factors file?", tensor: name)
            }
            guard name.hasSuffix(".U") else { continue }
            let matrix = String(name.dropLast(2))
            guard let s = graph[matrix + ".S"], let v = graph[matrix + ".V"] else {
                throw AmalgamError(.invalidFormat, "has no matching \(matrix).S and \(matrix).V", tensor: name)
            }
            let (ud, sd, vd) = (tensor.shape.dimensions, s.shape.dimensions, v.shape.dimensions)
            guard ud.count == 2, vd.count == 2, sd.count == 1, ud[1] == sd[0], vd[1] == sd[0] else {
                throw AmalgamError(
                    .mismatch, "factors U \(tensor.shape), S \(s.shape), V \(v.shape) do not fit together",
                    tensor: matrix)
            }
            add(
                Factors(
                    rows: ud[0], columns: vd[0], u: try tensor.floatValues(), s: try s.floatValues(),
                    v: try v.floatValues()),
                for: matrix)
        }
        for tensor in graph.tensors where !tensor.name.hasSuffix(".U") {
            guard self[String(tensor.name.dropLast(2))] != nil else {
                throw AmalgamError(.invalidFormat, "has no matching .U factor", tensor: tensor.name)
            }
        }
    }
}
