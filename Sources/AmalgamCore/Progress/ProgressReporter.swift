/// Receives progress of long operations (bytes written, tensors merged). Implementations
/// must be cheap to call often and safe to call from any thread.
public protocol ProgressReporter: Sendable {
    /// A new phase with `total` units of work (bytes, tensors) named `label`.
    func begin(label: String, total: Int64)
    /// `units` more units are done.
    func advance(by units: Int64)
    /// The phase is over (successfully or not).
    func finish()
}
