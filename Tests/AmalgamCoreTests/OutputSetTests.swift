import Testing

@testable import AmalgamCore

#if canImport(Glibc)
    import Glibc
#endif

struct OutputSetTests {
    static func scratchFolder() -> String {
        var template = Array("/tmp/amalgam-test-XXXXXX".utf8CString)
        let path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        return path
    }

    @Test("nothing appears until commit; an abandoned output set leaves no file")
    func atomic() throws {
        let folder = Self.scratchFolder()
        do {
            let outputs = OutputSet(overwrite: false)
            let file = try outputs.create(folder + "/a.bin")
            try file.write([1, 2, 3])
            #expect(FileIdentity.of(path: folder + "/a.bin") == nil)
            #expect(FileSystem.list(folder).count == 1)  // only the hidden temporary
        }
        #expect(FileSystem.list(folder).isEmpty)
        let outputs = OutputSet(overwrite: false)
        try outputs.create(folder + "/a.bin").write([UInt8](repeating: 7, count: 3 << 20))
        try outputs.commit()
        #expect(FileSystem.list(folder) == ["a.bin"])
        let mapped = try MappedFile(path: folder + "/a.bin")
        #expect(mapped.size == 3 << 20 && mapped.region.bytes.allSatisfy { $0 == 7 })
    }

    @Test("existing outputs need overwrite; inputs are never overwritten")
    func refusals() throws {
        let folder = Self.scratchFolder()
        let outputs = OutputSet(overwrite: false)
        try outputs.create(folder + "/x").write([1])
        try outputs.commit()
        #expect(throws: AmalgamError.self) { try OutputSet(overwrite: false).create(folder + "/x") }
        let identity = FileIdentity.of(path: folder + "/x")!
        do {
            _ = try OutputSet(overwrite: true, protecting: [identity]).create(folder + "/x")
            Issue.record("overwrote an input")
        } catch {
            #expect(error.message == "refusing to overwrite an input file")
        }
        let replacing = OutputSet(overwrite: true)
        try replacing.create(folder + "/x").write([9, 9])
        try replacing.commit()
        #expect(try MappedFile(path: folder + "/x").region.bytes == [9, 9])
    }
}
