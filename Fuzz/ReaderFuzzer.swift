// libFuzzer entry point for every reader Amalgam has: the format plugins (through the file
// they would map), the JSON and YAML parsers, the recipe and mergekit readers and the HTML report pages. Every input must end in a value or an
// AmalgamError: never a crash, a leak or a huge allocation. The target comes from
// AMALGAM_FUZZ_TARGET; scripts/fuzz.sh builds this with AddressSanitizer and runs it.
import AmalgamCore
import Reports

@testable import Amalgam

#if canImport(Glibc)
    import Glibc
#endif

/// The plugin, or parser, under test, and the file the input is written to.
nonisolated(unsafe) private var target: (name: String, path: String)?

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>>)
    -> CInt
{
    let name = getenv("AMALGAM_FUZZ_TARGET").map { String(cString: $0) } ?? "safetensors"
    let extensions = [
        "safetensors": "safetensors", "gguf": "gguf", "onnx": "onnx", "npy": "npy", "npz": "npz", "pytorch": "bin",
        "json": "json", "recipe": "json", "report": "json", "yaml": "yml",
    ]
    guard let ext = extensions[name] else {
        fputs("unknown AMALGAM_FUZZ_TARGET '\(name)' (\(extensions.keys.sorted().joined(separator: ", ")))\n", stderr)
        exit(64)
    }
    let folder = "/dev/shm/amalgam-fuzz-\(getpid())"
    mkdir(folder, 0o700)
    target = (name, folder + "/input." + ext)
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let (name, path) = target else { return 0 }
    if name == "json" {
        _ = try? JSONParser.parse(UnsafeRawBufferPointer(start: data, count: size))
        return 0
    }
    if name == "report" {
        // Any JSON document through every page: each value a chart could be handed.
        if let json = try? JSONParser.parse(UnsafeRawBufferPointer(start: data, count: size)) {
            _ = try? ReportPage.html([(label: "input.json", json: json)])
        }
        return 0
    }
    guard let file = fopen(path, "wb") else { return 0 }
    fwrite(data, 1, size, file)
    fclose(file)
    if name == "recipe" {
        _ = try? Recipe.load(path)
        return 0
    }
    if name == "yaml" {
        // The YAML reader, then mergekit's configuration (or a recipe) read from the tree.
        _ = try? YAMLParser.parse(UnsafeRawBufferPointer(start: data, count: size))
        _ = try? Recipe.load(path, output: "/dev/shm/amalgam-fuzz-out/")
        return 0
    }
    guard let reader = try? Amalgam.builtInFormats.reader(named: name) else { return 0 }
    // verify's audit: the parsers going on past faults, departures included.
    _ = reader.audit(path, options: ReadOptions(), strict: true)
    guard let graph = try? reader.load(path) else { return 0 }
    // Load and decode every tensor: the decoders and the lazily checked parts run too.
    for tensor in graph.tensors {
        _ = try? tensor.loadBytes()
        if tensor.encoding.dtype?.isComplex != true { _ = try? tensor.floatValues() }
    }
    return 0
}
