// libFuzzer entry point for the PyTorch reader (zip and legacy layouts, the pickle machine, the
// strided copies): every input must end in a value or an AmalgamError, never a crash. Built and
// run by scripts/fuzz.sh (AddressSanitizer, coverage on the reader's modules).
import AmalgamCore

@testable import PyTorchFormat

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let region = ByteRegion(copying: UnsafeBufferPointer(start: data, count: size))
    if let (tensors, _) = try? TorchArchive.read(archive: region) {
        for tensor in tensors { _ = try? tensor.loadBytes() }
    }
    return 0
}
