import Amalgam
import CMalloc
import LinearAlgebra

#if canImport(Glibc)
    import Glibc
#endif

/// The `amalgam` command: a thin layer over the Amalgam library.
/// Exit codes: 0 success, 1 failure (one line on stderr), 64 usage error.
enum CLI {
    nonisolated(unsafe) static let commands: [any Command.Type] = [
        FormatsCommand.self, InspectCommand.self, VerifyCommand.self, DiffCommand.self, ConvertCommand.self,
        MergeCommand.self, AssembleCommand.self, SlurmCommand.self, KubernetesCommand.self, TuneCommand.self,
        TrainCommand.self, EvalCommand.self, ForwardCommand.self, RunCommand.self, ReportCommand.self,
        ExtractLoRACommand.self,
        TokenizeCommand.self,
        ZooCommand.self, BenchCommand.self, DemoCommand.self,
    ]

    static var overview: String {
        let width = commands.map { $0.name.count }.max() ?? 0
        let list = commands.map { "  \($0.name)\(String(repeating: " ", count: width - $0.name.count))  \($0.summary)" }
        return """
            amalgam \(Amalgam.version): convert and merge model weights across safetensors, GGUF, ONNX and NumPy.

            usage: amalgam COMMAND [ARGUMENTS] [OPTIONS]

            commands:
            \(list.joined(separator: "\n"))

            'amalgam COMMAND --help' describes a command. Exit status: 0 success, 1 failure, 64 usage error.
            """
    }

    /// Parses the command's arguments, then prints its help or builds and runs it.
    static func launch<C: Command>(_ command: C.Type, _ arguments: [String]) throws {
        let parsed = try ParsedArguments(arguments, settings: C.settings, command: C.name)
        if parsed.wantsHelp {
            Terminal.out(C.help)
            return
        }
        if let threads = parsed.values.integer(.threads) { Parallelism.current = Parallelism(threads: threads) }
        try C(parsed).run()
    }

    static func main(_ arguments: [String]) -> Int32 {
        guard let first = arguments.first else {
            Terminal.err(overview)
            return 64
        }
        switch first {
        case "--help", "-h", "help":
            if first == "help", arguments.count > 1, let command = commands.first(where: { $0.name == arguments[1] }) {
                Terminal.out(command.help)
            } else {
                Terminal.out(overview)
            }
            return 0
        case "--version":
            if arguments.dropFirst().contains("--json") {
                let document = JSONValue.object([
                    ("name", .string("amalgam")), ("version", .string(Amalgam.version)),
                    ("openblas_kernel", .string(BLAS.coreName)),
                    ("threads", .integer(Parallelism.machine.threads)),
                ])
                Terminal.out(document.serialized())
            } else {
                Terminal.out("amalgam \(Amalgam.version) (OpenBLAS kernel \(BLAS.coreName))")
            }
            return 0
        default:
            break
        }
        guard let command = commands.first(where: { $0.name == first }) else {
            let hint =
                Suggestion.closest(to: first, among: commands.map { $0.name }).map { " (did you mean '\($0)'?)" } ?? ""
            Terminal.err("amalgam: unknown command '\(first)'\(hint); run 'amalgam --help' for the list")
            return 64
        }
        do {
            try launch(command, Array(arguments.dropFirst()))
            return 0
        } catch let error as AmalgamError where error.code == .usage {
            Terminal.err("amalgam \(command.name): \(error); see 'amalgam \(command.name) --help'")
            return 64
        } catch let error as AmalgamError {
            Terminal.err("amalgam \(command.name): error: \(error)")
            return 1
        } catch {
            Terminal.err("amalgam \(command.name): error: \(error)")
            return 1
        }
    }
}

OpenBLASKernel.selectFastKernel(loadedCore: BLAS.coreName)
// glibc raises its mmap threshold after the first large free, so later tensor-sized buffers
// come from the heap and stay resident: a fixed 1 MiB threshold halves a merge's peak memory
// (559 -> 289 MB on 48 ViT-B/32 matrices, T = 8) at the same speed. The threshold is 2 MiB
// and up to 8 MiB of freed heap stays mapped, so a sketch's m x (K + 10) products (1 MiB at
// 3072 x 86) are not faulted in afresh after every free (that merge: 1.54 M -> 0.53 M page
// faults, 14 -> 13 s, peak 116 -> 118 MB). Training is the
// opposite case: every step allocates the same activations again, and fresh mappings cost a
// page fault and a cleared page each, so those commands keep buffers up to 256 MiB on the
// heap and keep freed heap mapped (a fixed mmap threshold also fixes the trim threshold at
// 128 KiB, so the top of the heap was returned and faulted in again every step); so does a
// quantising conversion, which decodes and encodes tensor after tensor of the same sizes
// (SmolLM2 to Q6_K: 1.54 -> 1.24 s with 2 threads). Its streamed blocks do not depend on
// this: `GGUFWriter.produce` reuses one decode and one output buffer across a tensor's blocks.
// The user's setting wins.
if getenv("MALLOC_MMAP_THRESHOLD_") == nil {
    let arguments = CommandLine.arguments.dropFirst()
    let training: Set<String> = ["tune", "train", "eval", "forward", "zoo", "bench", "demo"]
    let reusesBuffers =
        training.contains(arguments.first ?? "") || (arguments.first == "convert" && arguments.contains("--quant"))
    _ = mallopt(M_MMAP_THRESHOLD, reusesBuffers ? 1 << 28 : 1 << 21)
    _ = mallopt(M_TRIM_THRESHOLD, reusesBuffers ? 1 << 30 : 1 << 23)
}
exit(CLI.main(Array(CommandLine.arguments.dropFirst())))
