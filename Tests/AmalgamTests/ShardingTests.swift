import Testing

@testable import Amalgam

/// The pieces of a sharded merge that need no cluster: `--shard` syntax, part names, which
/// options decide the merge, and the job scripts' quoting.
struct ShardingTests {
    @Test("I/N parses with 0 <= I < N; anything else is refused naming the option")
    func shardSyntax() throws {
        #expect(try ShardRequest.parse("0/1", label: "--shard") == (0, 1))
        #expect(try ShardRequest.parse("3/4", label: "--shard") == (3, 4))
        for bad in ["4/4", "-1/4", "1", "a/b", "1/0", "1/2/3", ""] {
            #expect(throws: AmalgamError.self) { _ = try ShardRequest.parse(bad, label: "--shard") }
        }
    }

    @Test("parts are numbered from 1, padded so that names sort")
    func partNames() {
        #expect(ShardManifest.stem(index: 0, count: 4) == "part-0001-of-0004")
        #expect(ShardManifest.stem(index: 11_999, count: 12_000) == "part-12000-of-12000")
    }

    @Test("output options are not part of what decides a merge")
    func definingArguments() {
        let written = [
            "--base", "b", "--source", "s", "--output", "o.gguf", "--quant", "q8_0", "--density", "0.2", "--force",
            "--report", "r.json", "--threads", "8",
        ]
        #expect(MergeArguments.defining(written) == ["--base", "b", "--source", "s", "--density", "0.2"])
    }

    @Test("job scripts quote every argument as one shell word and expand the task index")
    func slurmScript() {
        var jobs = ClusterJobs(
            executable: "/opt/amalgam", mergeArguments: ["--base", "my model/base", "--source", "it's.gguf"], parts: 3,
            partsFolder: "parts", workingDirectory: "/work")
        jobs.jobName = "m"
        let script = jobs.slurmArrayScript(.init(partition: "cpu", time: "1:00:00"), logs: "/work/parts/logs")
        #expect(script.contains("#SBATCH --array=0-2\n"))
        #expect(script.contains("#SBATCH --partition=cpu\n#SBATCH --time=1:00:00\n"))
        #expect(
            script.contains(
                "exec /opt/amalgam merge --base 'my model/base' --source 'it'\\''s.gguf' --shard \"$SLURM_ARRAY_TASK_ID\"/3 --parts parts\n"
            ))
        let assemble = jobs.slurmAssembleScript(.init(), logs: "/l")
        #expect(assemble.hasSuffix("exec /opt/amalgam assemble parts\n"))
        #expect(assemble.contains("#SBATCH --output=/l/assemble.log\n#SBATCH --chdir=/work\n"))
    }
}
