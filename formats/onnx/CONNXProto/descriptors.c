#include "amalgam_onnx.h"

const ProtobufCMessageDescriptor *amalgam_onnx_model_descriptor(void) { return &onnx__model_proto__descriptor; }
const ProtobufCMessageDescriptor *amalgam_onnx_tensor_descriptor(void) { return &onnx__tensor_proto__descriptor; }
