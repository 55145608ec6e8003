import Amalgam
import Foundation

/// What `slurm merge` and `k8s merge` share: the merge's own options, checked by planning
/// it here (headers only) before any job is written, and the job description.
struct ClusterMerge {
    /// Options of the job commands, not of the merge.
    static let jobSettings: [Setting] = [.nodes, .parts, .partsZstd, .scripts]
    /// The merge's options as `merge` takes them (its own --shard and --dry-run aside).
    static let mergeSettings = MergeCommand.settings.filter { ![.shard, .parts, .partsZstd, .dryRun].contains($0) }

    let jobs: ClusterJobs
    let scripts: String

    init(jobs: ClusterJobs, scripts: String) {
        self.jobs = jobs
        self.scripts = scripts
    }

    init(_ arguments: ParsedArguments, command: String, ownSettings: [Setting]) throws {
        guard arguments.positionals == ["merge"] else {
            throw AmalgamError(.usage, "takes 'merge' and a merge's options: amalgam \(command) merge --base ...")
        }
        let values = arguments.values
        guard let nodes = values.integer(.nodes) else { throw AmalgamError(.usage, "missing --nodes N") }
        let parts = try values.required(.parts, why: "a folder every node reads and writes")
        let merge = arguments.arguments(without: Self.jobSettings + ownSettings)
        let parsed = try ParsedArguments(merge, settings: MergeCommand.settings, command: "merge")
        let options = try MergeCommand(parsed).options
        // Planning reads every input's header: a wrong path fails here, not on a node.
        _ = try Amalgam.planMerge(options)
        let executable = SystemCall.resolvedPath("/proc/self/exe") ?? CommandLine.arguments[0]
        jobs = ClusterJobs(
            executable: executable, mergeArguments: merge, parts: nodes, partsFolder: parts,
            partsZstd: values.integer(.partsZstd), workingDirectory: FileManager.default.currentDirectoryPath)
        scripts = values.text(.scripts) ?? parts
    }

    /// Writes `files` (name in `scripts`, contents) together, or none of them.
    func write(_ files: [(String, String)], force: Bool) throws -> [String] {
        let outputs = OutputSet(overwrite: force)
        for (name, text) in files { try outputs.create(scripts + "/" + name).write(text) }
        try outputs.commit()
        return outputs.paths
    }
}

/// `amalgam slurm merge ...`: a Slurm job array of the parts and the job that assembles them.
struct SlurmCommand: Command {
    static let name = "slurm"
    static let summary = "Write (and submit) a Slurm job array that merges in parts, and the job that assembles them."
    static let positionals = ["merge"]
    static let requiredSettings: [Setting] = [.nodes, .parts]
    static let ownSettings: [Setting] = [.partition, .timeLimit, .cpusPerTask, .submit, .wait]
    static let settings: [Setting] = ClusterMerge.jobSettings + ownSettings + ClusterMerge.mergeSettings
    static let discussion = """
        Writes merge-array.sbatch (task I runs 'amalgam merge ... --shard I/N --parts DIR') and
        assemble.sbatch ('amalgam assemble DIR', writing the merge's outputs) into --scripts, logs
        under its logs/ folder. --submit runs sbatch on both, the assemble job after the array
        (--dependency=afterany: it runs even when a task failed, and names the tensors missing);
        --wait waits for it and fails when it failed. Every node needs the inputs, the parts folder
        and this amalgam at the same paths (a shared file system); tasks run in this folder.

        examples:
          amalgam slurm merge --nodes 2 --parts parts/ --base base.safetensors --source a.safetensors --source b.npz --output merged.safetensors
        """

    let cluster: ClusterMerge
    let settings: ClusterJobs.SlurmSettings
    let submit: Bool
    let wait: Bool
    let force: Bool

    init(_ arguments: ParsedArguments) throws {
        cluster = try ClusterMerge(arguments, command: Self.name, ownSettings: Self.ownSettings)
        let values = arguments.values
        settings = ClusterJobs.SlurmSettings(
            partition: values.text(.partition), time: values.text(.timeLimit),
            cpusPerTask: values.integer(.cpusPerTask))
        submit = values.flag(.submit)
        wait = values.flag(.wait)
        force = values.flag(.force)
        if wait && !submit { throw AmalgamError(.usage, "--wait applies to --submit") }
    }

    func run() throws {
        let folder = cluster.scripts.hasPrefix("/") ? "" : FileManager.default.currentDirectoryPath + "/"
        let logs = folder + cluster.scripts + "/logs"
        _ = try FileSystem.createFolder(logs)
        let files = try cluster.write(
            [
                ("merge-array.sbatch", cluster.jobs.slurmArrayScript(settings, logs: logs)),
                ("assemble.sbatch", cluster.jobs.slurmAssembleScript(settings, logs: logs)),
            ], force: force)
        for file in files { Terminal.out("wrote \(file)") }
        guard submit else {
            Terminal.out(
                "submit with: id=$(sbatch --parsable \(files[0])) && sbatch --dependency=afterany:${id%%;*} \(files[1])"
            )
            return
        }
        let array = try Self.sbatch(["--parsable", files[0]])
        Terminal.out("submitted job array \(array) (\(cluster.jobs.parts) tasks)")
        let assemble = try Self.sbatch(
            ["--parsable", "--dependency=afterany:\(array)"] + (wait ? ["--wait"] : []) + [files[1]],
            failure: wait ? "the assemble job failed; see \(logs)/assemble.log and \(logs)/part-*.log" : nil)
        Terminal.out(wait ? "assemble job \(assemble) finished" : "submitted assemble job \(assemble)")
    }

    /// Runs sbatch and returns the job id it prints (`--parsable`: `ID[;CLUSTER]`).
    static func sbatch(_ arguments: [String], failure: String? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["sbatch"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        do { try process.run() } catch {
            throw AmalgamError(.notFound, "cannot run sbatch (is Slurm installed here?): \(error)")
        }
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let id = output.split(whereSeparator: \.isNewline).last.map { String($0.split(separator: ";")[0]) } ?? ""
        guard process.terminationStatus == 0 else {
            throw AmalgamError(
                .io, failure ?? "sbatch \(arguments.joined(separator: " ")) failed (exit \(process.terminationStatus))")
        }
        return id
    }
}

/// `amalgam k8s merge ...`: an Indexed Job of the parts and the Job that assembles them.
struct KubernetesCommand: Command {
    static let name = "k8s"
    static let summary =
        "Write Kubernetes manifests: an Indexed Job that merges in parts, and the Job that assembles them."
    static let positionals = ["merge"]
    static let requiredSettings: [Setting] = [.nodes, .parts, .image]
    static let ownSettings: [Setting] = [.image, .volumeClaim, .mountPath, .jobName, .cpusPerTask]
    static let settings: [Setting] = ClusterMerge.jobSettings + ownSettings + ClusterMerge.mergeSettings
    static let discussion = """
        Writes NAME.json (batch/v1 Job, completionMode Indexed: pod I runs 'amalgam merge ...
        --shard I/N' with I from JOB_COMPLETION_INDEX) and NAME-assemble.json ('amalgam assemble'),
        manifests kubectl applies as they are (JSON is YAML). Jobs cannot wait for each other:
        apply the second once the first is complete. Paths are as seen in the pods, relative to
        --mount, where --volume-claim is mounted.

        examples:
          amalgam k8s merge --nodes 2 --parts parts/ --image registry.example/amalgam:1 --volume-claim models --base base.safetensors --source a.safetensors --source b.npz --output merged.safetensors
        """

    let cluster: ClusterMerge
    let settings: ClusterJobs.KubernetesSettings
    let force: Bool

    init(_ arguments: ParsedArguments) throws {
        let values = arguments.values
        // The merge is planned where the pods will run it: relative to the mount.
        var cluster = try ClusterMerge(arguments, command: Self.name, ownSettings: Self.ownSettings)
        cluster = ClusterMerge(
            jobs: {
                var jobs = cluster.jobs
                jobs.executable = "amalgam"
                jobs.workingDirectory = values.text(.mountPath) ?? "/data"
                jobs.jobName = values.text(.jobName) ?? "amalgam-merge"
                return jobs
            }(), scripts: cluster.scripts)
        self.cluster = cluster
        var settings = ClusterJobs.KubernetesSettings(
            image: try values.required(.image), volumeClaim: values.text(.volumeClaim),
            cpus: values.integer(.cpusPerTask))
        settings.mountPath = values.text(.mountPath) ?? "/data"
        self.settings = settings
        force = values.flag(.force)
    }

    func run() throws {
        let name = cluster.jobs.jobName
        let files = try cluster.write(
            [
                (name + ".json", cluster.jobs.kubernetesMergeJob(settings).serialized(pretty: true) + "\n"),
                (name + "-assemble.json", cluster.jobs.kubernetesAssembleJob(settings).serialized(pretty: true) + "\n"),
            ], force: force)
        for file in files { Terminal.out("wrote \(file)") }
        Terminal.out(
            "run with: kubectl apply -f \(files[0]) && kubectl wait --for=condition=complete --timeout=-1s job/\(name) && kubectl apply -f \(files[1])"
        )
    }
}
