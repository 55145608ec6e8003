import Foundation

/// The jobs that run a sharded merge on a scheduler the user already has: one task per part
/// (`merge ... --shard I/N --parts DIR`), then one that assembles them (`assemble DIR`).
/// Every task runs in the same working directory (a shared file system), so the merge's
/// relative paths mean the same on every node.
public struct ClusterJobs: Sendable {
    /// The amalgam executable the tasks run (an absolute path on shared storage, or a name
    /// on the nodes' PATH).
    public var executable: String
    /// The merge's options as written (without `--shard` and `--parts`).
    public var mergeArguments: [String]
    public var parts: Int
    public var partsFolder: String
    public var partsZstd: Int?
    public var workingDirectory: String
    public var jobName = "amalgam-merge"

    public init(
        executable: String, mergeArguments: [String], parts: Int, partsFolder: String, partsZstd: Int? = nil,
        workingDirectory: String
    ) {
        self.executable = executable
        self.mergeArguments = mergeArguments
        self.parts = parts
        self.partsFolder = partsFolder
        self.partsZstd = partsZstd
        self.workingDirectory = workingDirectory
    }

    /// The arguments of part `index` (a shell variable's name, `$SLURM_ARRAY_TASK_ID`).
    func shardArguments(index: String) -> [String] {
        ["merge"] + mergeArguments + ["--shard", "\(index)/\(parts)", "--parts", partsFolder]
            + (partsZstd.map { ["--parts-zstd", String($0)] } ?? [])
    }

    var assembleArguments: [String] { ["assemble", partsFolder] }

    // MARK: Slurm

    /// sbatch settings besides the array and the log files.
    public struct SlurmSettings: Sendable {
        public var partition: String?
        public var time: String?
        public var cpusPerTask: Int?
        public init(partition: String? = nil, time: String? = nil, cpusPerTask: Int? = nil) {
            self.partition = partition
            self.time = time
            self.cpusPerTask = cpusPerTask
        }
    }

    /// The job array script: task `$SLURM_ARRAY_TASK_ID` computes that part.
    public func slurmArrayScript(_ settings: SlurmSettings, logs: String) -> String {
        var lines = header(jobName, settings, log: logs + "/part-%a.log")
        lines.insert("#SBATCH --array=0-\(parts - 1)", at: 2)
        lines.append("# Part $SLURM_ARRAY_TASK_ID (from 0) of \(parts) of a merge; written by amalgam slurm merge.")
        lines.append("set -eu")
        let command = ([executable] + shardArguments(index: "@INDEX@")).map(Self.shellQuoted).joined(separator: " ")
        // `@INDEX@/N` is one plain shell word: the task's index goes in its place, expanded.
        lines.append("exec " + command.replacingOccurrences(of: "@INDEX@", with: "\"$SLURM_ARRAY_TASK_ID\""))
        return lines.joined(separator: "\n") + "\n"
    }

    /// The assemble script, for a job that depends on the array.
    public func slurmAssembleScript(_ settings: SlurmSettings, logs: String) -> String {
        var lines = header(jobName + "-assemble", settings, log: logs + "/assemble.log")
        lines.append("# Assembles the \(parts) parts into the merge's outputs; written by amalgam slurm merge.")
        lines.append("set -eu")
        lines.append("exec " + ([executable] + assembleArguments).map(Self.shellQuoted).joined(separator: " "))
        return lines.joined(separator: "\n") + "\n"
    }

    private func header(_ name: String, _ settings: SlurmSettings, log: String) -> [String] {
        var lines = ["#!/bin/bash", "#SBATCH --job-name=\(name)"]
        lines.append("#SBATCH --output=\(log)")
        lines.append("#SBATCH --chdir=\(workingDirectory)")
        if let partition = settings.partition { lines.append("#SBATCH --partition=\(partition)") }
        if let time = settings.time { lines.append("#SBATCH --time=\(time)") }
        if let cpus = settings.cpusPerTask { lines.append("#SBATCH --cpus-per-task=\(cpus)") }
        return lines
    }

    /// `text` as one POSIX shell word.
    static func shellQuoted(_ text: String) -> String {
        let plain = text.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:,+@%".contains($0) }
        if plain, !text.isEmpty { return text }
        return "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    // MARK: Kubernetes

    /// Where the pods find the inputs and write the parts and outputs.
    public struct KubernetesSettings: Sendable {
        public var image: String
        public var volumeClaim: String?
        public var mountPath = "/data"
        public var cpus: Int?
        public init(image: String, volumeClaim: String? = nil, cpus: Int? = nil) {
            self.image = image
            self.volumeClaim = volumeClaim
            self.cpus = cpus
        }
    }

    /// The Indexed Job (one pod per part, `JOB_COMPLETION_INDEX`) as a batch/v1 manifest.
    public func kubernetesMergeJob(_ settings: KubernetesSettings) -> JSONValue {
        let index = JSONValue.object([
            ("name", .string("JOB_COMPLETION_INDEX")),
            (
                "valueFrom",
                .object([
                    (
                        "fieldRef",
                        .object([
                            ("fieldPath", .string("metadata.annotations['batch.kubernetes.io/job-completion-index']"))
                        ])
                    )
                ])
            ),
        ])
        let arguments = shardArguments(index: "$(JOB_COMPLETION_INDEX)")
        return job(
            jobName, container: "merge", arguments: arguments, environment: [index], settings: settings,
            spec: [
                ("completionMode", .string("Indexed")), ("completions", .integer(parts)),
                ("parallelism", .integer(parts)), ("backoffLimit", .integer(parts)),
            ])
    }

    /// The Job that assembles the parts (apply it once the Indexed Job is complete).
    public func kubernetesAssembleJob(_ settings: KubernetesSettings) -> JSONValue {
        job(
            jobName + "-assemble", container: "assemble", arguments: assembleArguments, environment: [],
            settings: settings, spec: [("completions", .integer(1)), ("backoffLimit", .integer(0))])
    }

    private func job(
        _ name: String, container: String, arguments: [String], environment: [JSONValue],
        settings: KubernetesSettings, spec: [(key: String, value: JSONValue)]
    ) -> JSONValue {
        var containerFields: [(key: String, value: JSONValue)] = [
            ("name", .string(container)), ("image", .string(settings.image)),
            ("command", .array([.string(executable)])), ("args", .array(arguments.map { .string($0) })),
            ("workingDir", .string(settings.mountPath)),
        ]
        if !environment.isEmpty { containerFields.append(("env", .array(environment))) }
        if let cpus = settings.cpus {
            containerFields.append(
                ("resources", .object([("requests", .object([("cpu", .string(String(cpus)))]))])))
        }
        var podFields: [(key: String, value: JSONValue)] = [("restartPolicy", .string("Never"))]
        if let claim = settings.volumeClaim {
            containerFields.append(
                (
                    "volumeMounts",
                    .array([.object([("name", .string("data")), ("mountPath", .string(settings.mountPath))])])
                )
            )
            podFields.append(
                (
                    "volumes",
                    .array([
                        .object([
                            ("name", .string("data")),
                            ("persistentVolumeClaim", .object([("claimName", .string(claim))])),
                        ])
                    ])
                ))
        }
        podFields.insert(("containers", .array([.object(containerFields)])), at: 0)
        let labels = JSONValue.object([("app.kubernetes.io/name", .string("amalgam")), ("amalgam/job", .string(name))])
        return .object([
            ("apiVersion", .string("batch/v1")), ("kind", .string("Job")),
            ("metadata", .object([("name", .string(name)), ("labels", labels)])),
            (
                "spec",
                .object(
                    spec + [
                        (
                            "template",
                            .object([("metadata", .object([("labels", labels)])), ("spec", .object(podFields))])
                        )
                    ])
            ),
        ])
    }
}
