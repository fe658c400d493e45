"""Interop check used by ModelZooTests.testPyTorchLoadsStrataZooModels.

    python zoo_torch_check.py <folder>

For every <name>.safetensors in the folder written by Strata (a model of
make_zoo_fixtures.NARROW, its state_dict keys, plus "x"), builds the same
PyTorch model, loads the state with load_state_dict(strict=True), and
writes <name>.out.safetensors with "y_eval" (eval mode) and then "y_train"
(one forward in train mode). Exits with 77 when torch or safetensors
cannot be imported.
"""
import os
import sys

try:
    import torch
    from safetensors.torch import load_file, save_file
except ImportError:
    sys.exit(77)  # the test skips: this Python has no torch or safetensors

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_zoo_fixtures import NARROW  # noqa: E402


def main():
    folder = sys.argv[1]
    for file in sorted(os.listdir(folder)):
        name, ext = os.path.splitext(file)
        if ext != ".safetensors" or name.endswith(".out"):
            continue
        state = load_file(os.path.join(folder, file))
        x = state.pop("x")
        model = NARROW[name][0]()
        # Strata stores num_batches_tracked as a float scalar in I64 files.
        model.load_state_dict({k: v.to(model.state_dict()[k].dtype) for k, v in state.items()}, strict=True)
        with torch.no_grad():
            model.eval()
            y_eval = model(x)
            model.train()
            y_train = model(x)
        save_file({"y_eval": y_eval.contiguous(), "y_train": y_train.contiguous()},
                  os.path.join(folder, name + ".out.safetensors"))


if __name__ == "__main__":
    main()
