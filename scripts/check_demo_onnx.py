"""Runs the demo's ONNX export in onnxruntime on the target's test set and compares the
accuracy with the one Amalgam measured on the same file (make demo calls this)."""
import json
import sys

import numpy as np
import onnxruntime


def main(folder):
    summary = json.load(open(f"{folder}/demo.json"))
    export = next(e for e in summary["exports"] if e["path"].endswith(".onnx"))
    data = np.load(summary["test"])
    session = onnxruntime.InferenceSession(export["path"], providers=["CPUExecutionProvider"])
    logits = session.run(["logits"], {"x": data["x"].astype(np.float32)})[0]
    correct = int((logits.argmax(axis=1) == data["y"]).sum())
    count = len(data["y"])
    theirs = correct / count
    ours = export["accuracy"]
    print(f"7. onnxruntime {onnxruntime.__version__} runs {export['path']}: accuracy {100 * theirs:.2f}% "
          f"({correct}/{count}); Amalgam measured {100 * ours:.2f}% on the same file")
    # The graphs compute the same function in f32; an argmax may flip on a near tie only.
    if abs(round(ours * count) - correct) > 1:
        print("onnxruntime and Amalgam disagree on more than one example", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ".build/demo"))
