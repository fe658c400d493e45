"""Generates the PyTorch fixtures for CheckpointTests and TrainingUtilTests.

Run with a Python that has torch and safetensors (the repository's .venv):
    .venv/bin/python Tests/StrataTests/Fixtures/make_safetensors_fixtures.py

Writes, next to this script:
- torch_mlp.safetensors: state_dict of Sequential(Linear(4, 3), ReLU, Linear(3, 2))
  saved by safetensors.torch.save_file;
- dtypes.safetensors: one small tensor per dtype (F32, F64, F16, BF16, I64, I32)
  and an int64 scalar "bn.num_batches_tracked";
- safetensors.json: the expected float values of both files and the MLP's
  output on a fixed input;
- schedules.json: learning rates of StepLR, MultiStepLR, CosineAnnealingLR and OneCycleLR
  and clip_grad_norm_ results.
"""
import json
import math
import os

import torch
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(0)


def flat(t):
    return [float(v) for v in t.detach().to(torch.float64).reshape(-1).tolist()]


def main():
    out = {}
    # 1. A small MLP written by PyTorch.
    mlp = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    save_file({k: v.contiguous() for k, v in mlp.state_dict().items()}, os.path.join(HERE, "torch_mlp.safetensors"))
    x = torch.tensor([[0.5, -1.0, 2.0, 0.25], [-0.3, 0.8, -1.5, 1.0]])
    out["mlp"] = {
        "state": {k: {"shape": list(v.shape), "values": flat(v)} for k, v in mlp.state_dict().items()},
        "input": flat(x),
        "output": flat(mlp(x)),
    }

    # 2. One tensor per dtype.
    base = torch.tensor([[1.5, -2.25, 0.1], [3.0, 1e-3, -7.0]])
    tensors = {
        "f32": base.to(torch.float32),
        "f64": base.to(torch.float64),
        "f16": base.to(torch.float16),
        "bf16": base.to(torch.bfloat16),
        "i64": torch.tensor([[1, -2, 3], [4, 5, -6000000000]], dtype=torch.int64),
        "i32": torch.tensor([7, -8, 9, 2147483647], dtype=torch.int32),
        "bn.num_batches_tracked": torch.tensor(42, dtype=torch.int64),
    }
    save_file(tensors, os.path.join(HERE, "dtypes.safetensors"), metadata={"source": "pytorch"})
    out["dtypes"] = {k: {"shape": list(v.shape), "values": [float(e) for e in v.to(torch.float64).reshape(-1).tolist()]}
                     for k, v in tensors.items()}

    with open(os.path.join(HERE, "safetensors.json"), "w") as f:
        json.dump(out, f, indent=1)

    # 3. LR schedules (lr at construction, then after each step).
    def run(make, steps, lr=0.1):
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([p], lr=lr, momentum=0.9)
        sched = make(opt)
        lrs = [opt.param_groups[0]["lr"]]
        for _ in range(steps):
            opt.step()
            sched.step()
            lrs.append(opt.param_groups[0]["lr"])
        return lrs

    sched = {
        "step_lr": run(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5), 12),
        "multi_step_lr": run(lambda o: torch.optim.lr_scheduler.MultiStepLR(o, milestones=[3, 7, 7], gamma=0.5), 12),
        "cosine": run(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.001), 25),
        "one_cycle": run(lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.2, total_steps=50,
                                                                       cycle_momentum=False), 49),
    }
    # 4. clip_grad_norm_.
    g1 = torch.tensor([[0.5, -1.5], [2.0, 0.25]])
    g2 = torch.tensor([3.0, -0.75, 1.25])
    clip = {"g1": flat(g1), "g2": flat(g2)}
    for name, max_norm, norm_type in [("l2", 1.0, 2.0), ("l2_big", 100.0, 2.0), ("inf", 0.5, math.inf), ("l1", 2.0, 1.0)]:
        a = torch.nn.Parameter(torch.zeros(2, 2)); b = torch.nn.Parameter(torch.zeros(3))
        a.grad = g1.clone(); b.grad = g2.clone()
        total = torch.nn.utils.clip_grad_norm_([a, b], max_norm, norm_type=norm_type)
        clip[name] = {"max_norm": max_norm, "norm_type": "inf" if math.isinf(norm_type) else norm_type,
                      "total": float(total), "g1": flat(a.grad), "g2": flat(b.grad)}
    with open(os.path.join(HERE, "schedules.json"), "w") as f:
        json.dump({"schedules": sched, "clip": clip}, f, indent=1)


if __name__ == "__main__":
    main()
