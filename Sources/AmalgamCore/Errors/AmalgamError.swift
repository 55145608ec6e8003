/// The one error type of Amalgam: a code a program can switch on, a human message, the
/// context it happened in (file, tensor, byte offset) and an optional underlying cause.
///
/// `description` renders everything on one line, ready for a terminal:
/// `model.safetensors: tensor 'w' at byte 1032: data_offsets [0, 16] do not match ...`.
public struct AmalgamError: Error, CustomStringConvertible, Sendable {
    /// Broad classes of failure; stable for programs and tests.
    public enum Code: String, Sendable, CaseIterable {
        /// The bytes do not follow the format (a malformed or malicious file).
        case invalidFormat = "invalid-format"
        /// Well-formed, but uses something Amalgam does not handle (a dtype, a version).
        case unsupported
        /// A size, count or offset computation would overflow or exceeds a limit.
        case overflow
        /// Reading, writing, mapping or renaming failed in the operating system.
        case io
        /// The file or format named does not exist or is not recognised.
        case notFound = "not-found"
        /// An output exists and `--force` was not given, or would overwrite an input.
        case alreadyExists = "already-exists"
        /// Two things that must agree do not (shapes, names, dtypes).
        case mismatch
        /// Wrong arguments or options given by the caller.
        case usage
        /// A broken invariant inside Amalgam: a bug.
        case `internal`
    }

    /// Where the error happened. Every field is optional; set what is known.
    public struct Context: Sendable, Equatable {
        public var file: String?
        public var tensor: String?
        public var offset: UInt64?

        public init(file: String? = nil, tensor: String? = nil, offset: UInt64? = nil) {
            self.file = file
            self.tensor = tensor
            self.offset = offset
        }
    }

    /// What lies under an error: a failed system call's error number, or another failure's text.
    public enum Cause: Sendable, Equatable, CustomStringConvertible {
        case system(Errno)
        case other(String)

        public var description: String {
            switch self {
            case .system(let number): number.description
            case .other(let text): text
            }
        }
    }

    public var code: Code
    public var message: String
    public var context: Context
    /// The error this one wraps, if any.
    public var cause: Cause?

    /// The error number of the system call that failed, when that is the cause.
    public var errno: Errno? {
        if case .system(let number) = cause { return number }
        return nil
    }

    public init(
        _ code: Code, _ message: String, file: String? = nil, tensor: String? = nil,
        offset: UInt64? = nil, cause: Cause? = nil
    ) {
        self.code = code
        self.message = message
        self.context = Context(file: file, tensor: tensor, offset: offset)
        self.cause = cause
    }

    /// A failed system call on `file`: `.notFound` for `ENOENT`, `.alreadyExists` for
    /// `EEXIST`, `.io` otherwise; the error number is kept as the cause.
    public init(_ message: String, file: String, errno number: Errno, offset: UInt64? = nil) {
        let code: Code =
            switch number {
            case .noSuchFile: .notFound
            case .fileExists: .alreadyExists
            default: .io
            }
        self.init(code, message, file: file, offset: offset, cause: .system(number))
    }

    /// Returns a copy with context filled in where this error has none (inner layers know
    /// the offset, outer layers know the file).
    public func adding(file: String? = nil, tensor: String? = nil, offset: UInt64? = nil) -> AmalgamError {
        var copy = self
        if copy.context.file == nil { copy.context.file = file }
        if copy.context.tensor == nil { copy.context.tensor = tensor }
        if copy.context.offset == nil { copy.context.offset = offset }
        return copy
    }

    public var description: String {
        var prefix: [String] = []
        if let file = context.file { prefix.append(file) }
        var location: [String] = []
        if let tensor = context.tensor { location.append("tensor '\(tensor)'") }
        if let offset = context.offset { location.append("at byte \(offset)") }
        var line = ""
        if !prefix.isEmpty { line += prefix.joined() + ": " }
        if !location.isEmpty { line += location.joined(separator: " ") + ": " }
        line += message
        if let cause { line += " (\(cause))" }
        return String(line.map { $0 == "\n" || $0 == "\r" ? " " : $0 })
    }
}

extension AmalgamError {
    /// `error` as an `AmalgamError` naming `file` (and `tensor`) where it names none.
    public static func attributed(_ error: any Error, file: String? = nil, tensor: String? = nil) -> AmalgamError {
        do {
            return try withContext(file: file, tensor: tensor) { () throws -> AmalgamError in throw error }
        } catch let converted as AmalgamError {
            return converted
        } catch {
            return AmalgamError(.internal, "unexpected failure", file: file, cause: .other("\(error)"))
        }
    }

    /// Runs `body`, attaching `file` (and optionally `tensor`) to any `AmalgamError` thrown;
    /// other errors are wrapped as `.io` with their description as the cause.
    public static func withContext<T>(
        file: String? = nil, tensor: String? = nil, _ body: () throws -> T
    ) throws -> T {
        do {
            return try body()
        } catch let error as AmalgamError {
            throw error.adding(file: file, tensor: tensor)
        } catch let number as Errno {
            throw AmalgamError(.io, "system call failed", file: file, tensor: tensor, cause: .system(number))
        } catch {
            throw AmalgamError(.io, "unexpected failure", file: file, tensor: tensor, cause: .other("\(error)"))
        }
    }
}
