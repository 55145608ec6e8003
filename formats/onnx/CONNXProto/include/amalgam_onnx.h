// Stable addresses of the generated message descriptors, for Swift (which cannot take the
// address of an imported C constant). Not generated: regenerate-onnx-bindings keeps it.
#ifndef AMALGAM_ONNX_H
#define AMALGAM_ONNX_H
#include "onnx.pb-c.h"

const ProtobufCMessageDescriptor *amalgam_onnx_model_descriptor(void);
const ProtobufCMessageDescriptor *amalgam_onnx_tensor_descriptor(void);

#endif
