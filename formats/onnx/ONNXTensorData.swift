import AmalgamCore
import CONNXProto
import CProtobufC

/// Where a TensorProto's values are.
enum ONNXTensorData {
    /// No data field (legal for empty tensors only).
    case none
    /// `raw_data`, left in the file at this offset.
    case raw(offset: Int, count: Int)
    /// A typed field (`float_data`, `int32_data`...), already re-encoded as little-endian
    /// elements of the tensor's dtype.
    case typed([UInt8])
    /// `data_location: EXTERNAL`, with the `external_data` entries as given.
    case external(location: String?, offset: String?, length: String?)
}
