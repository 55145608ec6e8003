import AmalgamCore
import LinearAlgebra

/// A way to merge sources into a base, one tensor at a time. Implementations are values
/// with no mutable state: the executor calls `merge` from several threads at once.
///
/// Contract: `merge` returns `input.base.count` values; it must be deterministic for a
/// given input (randomness comes from `input.seed`); it throws `AmalgamError` for inputs
/// it cannot handle.
public protocol MergeMethod: Sendable {
    /// `axis`, `ties`, ...
    var name: String { get }
    /// The method's settings, for the report.
    var settings: [(key: String, value: JSONValue)] { get }
    func merge(_ input: TensorMergeInput) throws -> TensorMergeResult
}
