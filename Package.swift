// swift-tools-version: 6.0
//
// Amalgam: read, convert, merge and export model weights across safetensors, GGUF, ONNX
// and NumPy. See ../shared/docs/DESIGN.md for the architecture this layout follows.
import PackageDescription

/// The C libraries Amalgam links, each wrapped by a `systemLibrary` target (Debian -dev
/// packages; see README.md). Only the modules named in DESIGN.md may import them.
let cLibraries: [Target] = [
    .systemLibrary(name: "COpenBLAS", path: "Sources/CLibraries/COpenBLAS"),
    .systemLibrary(name: "CProtobufC", path: "Sources/CLibraries/CProtobufC"),
    .systemLibrary(name: "CZlib", path: "Sources/CLibraries/CZlib"),
    .systemLibrary(name: "CMalloc", path: "Sources/CLibraries/CMalloc"),
    .systemLibrary(name: "CZstd", path: "Sources/CLibraries/CZstd"),
]

let package = Package(
    name: "Amalgam",
    products: [
        .library(name: "Amalgam", targets: ["Amalgam"]),
        .library(name: "AmalgamCore", targets: ["AmalgamCore"]),
        .library(name: "LinearAlgebra", targets: ["LinearAlgebra"]),
        .library(name: "MergeKernel", targets: ["MergeKernel"]),
        .library(name: "Tuning", targets: ["Tuning"]),
        .library(name: "Zoo", targets: ["Zoo"]),
        .library(name: "Reports", targets: ["Reports"]),
        .executable(name: "amalgam", targets: ["amalgam"]),
    ],
    targets: cLibraries + [
        // Core: dtypes, shapes, storage, the layer graph, plugins, errors, atomic output, zstd streams.
        .target(name: "AmalgamCore", dependencies: ["CZstd"]),
        // The only module that imports BLAS/LAPACK.
        .target(name: "LinearAlgebra", dependencies: ["AmalgamCore", "COpenBLAS"]),

        // Merging: task vectors, AXIS Stage 1, baselines, the streaming executor.
        .target(name: "MergeKernel", dependencies: ["AmalgamCore", "LinearAlgebra"]),

        // Stage 2: a compact CPU training engine (layers, singular-value tuning, AdamW).
        .target(name: "Tuning", dependencies: ["AmalgamCore", "LinearAlgebra"]),

        // HTML reports: charts written here (inline SVG), pages for merges, tuning, the benchmark.
        .target(name: "Reports", dependencies: ["AmalgamCore"]),

        // Format plugins: one target each, depending only on AmalgamCore (and own C code).
        .target(name: "SafetensorsFormat", dependencies: ["AmalgamCore"], path: "formats/safetensors"),
        .target(name: "NPZFormat", dependencies: ["AmalgamCore", "CZlib"], path: "formats/npz"),
        .target(name: "GGUFFormat", dependencies: ["AmalgamCore"], path: "formats/gguf"),
        .target(name: "PyTorchFormat", dependencies: ["AmalgamCore"], path: "formats/pytorch"),
        // ONNX: protobuf-c bindings generated from onnx.proto (checked in; regenerate with
        // `swift package --allow-writing-to-package-directory regenerate-onnx-bindings`).
        .target(
            name: "CONNXProto", dependencies: ["CProtobufC"], path: "formats/onnx/CONNXProto"),
        .target(
            name: "ONNXFormat", dependencies: ["AmalgamCore", "CONNXProto", "CProtobufC"], path: "formats/onnx",
            exclude: ["CONNXProto", "onnx.proto"]),

        // Umbrella: registers the built-in formats, pipelines.
        .target(
            name: "Amalgam",
            dependencies: [
                "AmalgamCore", "LinearAlgebra", "MergeKernel", "Tuning", "Reports", "SafetensorsFormat", "NPZFormat",
                "GGUFFormat", "ONNXFormat", "PyTorchFormat",
            ]),
        // The model zoo (real data, sources trained here) and the multi-source transfer benchmark.
        .target(
            name: "Zoo",
            dependencies: [
                "Amalgam", "AmalgamCore", "Tuning", "MergeKernel", "LinearAlgebra", "ONNXFormat", "Reports", "CZlib",
            ]),
        // The command-line tool: argument parsing and printing over the library.
        .executableTarget(
            name: "amalgam", dependencies: ["Amalgam", "AmalgamCore", "LinearAlgebra", "Zoo", "Reports", "CMalloc"]),

        // The README's library example, compiled as written (a test checks the README shows this file and runs it).
        .executableTarget(name: "ReadmeExample", dependencies: ["Amalgam"], path: "Examples/ReadmeExample"),

        // Regenerates the protobuf-c bindings of formats/onnx from its onnx.proto.
        .plugin(
            name: "RegenerateONNXBindings",
            capability: .command(
                intent: .custom(
                    verb: "regenerate-onnx-bindings",
                    description: "Regenerate formats/onnx/CONNXProto from onnx.proto with protoc-c"),
                permissions: [.writeToPackageDirectory(reason: "Rewrites formats/onnx/CONNXProto")]
            ),
            path: "Plugins/RegenerateONNXBindings"
        ),
        // Converts model files inside a package from the command line.
        .plugin(
            name: "ConvertModels",
            capability: .command(
                intent: .custom(verb: "convert-models", description: "Convert model files with amalgam"),
                permissions: [.writeToPackageDirectory(reason: "Writes converted model files")]
            ),
            dependencies: ["amalgam"],
            path: "Plugins/ConvertModels"
        ),

        // Helpers and malformed-input corpora shared by the test targets.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "AmalgamCoreTests", dependencies: ["AmalgamCore"]),
        .testTarget(name: "LinearAlgebraTests", dependencies: ["LinearAlgebra", "AmalgamCore", "COpenBLAS"]),
        .testTarget(name: "TuningTests", dependencies: ["Tuning", "LinearAlgebra", "AmalgamCore"]),
        .testTarget(name: "ReportsTests", dependencies: ["Reports", "AmalgamCore"]),
        .testTarget(name: "MergeKernelTests", dependencies: ["MergeKernel", "LinearAlgebra", "AmalgamCore"]),
        .testTarget(name: "SafetensorsFormatTests", dependencies: ["SafetensorsFormat", "AmalgamCore", "TestSupport"]),
        .testTarget(name: "NPZFormatTests", dependencies: ["NPZFormat", "AmalgamCore", "TestSupport"]),
        .testTarget(name: "GGUFFormatTests", dependencies: ["GGUFFormat", "AmalgamCore", "TestSupport"]),
        .testTarget(name: "ONNXFormatTests", dependencies: ["ONNXFormat", "AmalgamCore", "TestSupport"]),
        .testTarget(name: "AmalgamTests", dependencies: ["Amalgam", "amalgam", "ReadmeExample", "TestSupport"]),
        .testTarget(name: "ZooTests", dependencies: ["Zoo", "Amalgam", "AmalgamCore", "Tuning"]),
        .testTarget(
            name: "CLibrariesTests",
            dependencies: ["COpenBLAS", "CProtobufC", "CZlib", "CMalloc", "CZstd"]
        ),
    ]
)
