"""Interop check used by CheckpointTests.testPyTorchLoadsStrataCheckpoint.

    python torch_load_check.py <strata.safetensors> <in,hidden,out> <input.json> <output.json> <torch.safetensors>

Builds torch.nn.Sequential(Linear(in, hidden), ReLU(), Linear(hidden, out)),
loads the Strata file with load_state_dict(strict=True), runs the input
(a JSON list of rows), writes the output rows to output.json, and saves the
model's state_dict back with safetensors.torch.save_file so Strata can read it.
"""
import json
import sys

import torch
from safetensors.torch import load_file, save_file


def main():
    path, dims, inp, outp, back = sys.argv[1:6]
    i, h, o = (int(v) for v in dims.split(","))
    model = torch.nn.Sequential(torch.nn.Linear(i, h), torch.nn.ReLU(), torch.nn.Linear(h, o))
    model.load_state_dict(load_file(path), strict=True)
    with open(inp) as f:
        x = torch.tensor(json.load(f), dtype=torch.float32)
    with torch.no_grad():
        y = model(x)
    with open(outp, "w") as f:
        json.dump(y.tolist(), f)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, back)


if __name__ == "__main__":
    main()
