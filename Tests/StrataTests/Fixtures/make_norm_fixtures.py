"""Reference values for the normalisation tests, computed by PyTorch.

Run from the repository root with a Python that has torch:
    python Tests/StrataTests/Fixtures/make_norm_fixtures.py
It rewrites norm.json beside this file. The tests only read the JSON.

Each case runs a module for a few steps on fresh inputs (train steps, then
eval steps) and records, per step: input x, upstream gradient g, output y,
dx, and the parameter gradients and running statistics after the step.
"""
import json, os
import torch

torch.manual_seed(0)
out = {"torch_version": torch.__version__}


def flat(t):
    return [float(f"{v:.8g}") for v in t.detach().reshape(-1).tolist()]


def run(module, shape, modes, scale=2.0, shift=0.5):
    params = dict(module.named_parameters())
    with torch.no_grad():
        for p in params.values():
            p.copy_(torch.randn_like(p) * 0.5 + (1.0 if p.dim() and p is params.get("weight") else 0.0))
    case = {"params": {k: flat(v) for k, v in params.items()}, "steps": []}
    for mode in modes:
        module.train(mode == "train")
        x = (torch.randn(*shape) * scale + shift).requires_grad_()
        g = torch.randn(*shape)
        for p in params.values():
            p.grad = None
        y = module(x)
        y.backward(g)
        step = {"mode": mode, "shape": list(shape), "x": flat(x), "g": flat(g), "y": flat(y), "dx": flat(x.grad)}
        for k, p in params.items():
            step["d" + k] = flat(p.grad)
        for k, b in module.named_buffers():
            step[k] = flat(b.float())
        case["steps"].append(step)
    return case


nn = torch.nn
out["bn2d_momentum"] = run(nn.BatchNorm2d(4), (3, 4, 2, 3), ["train", "train", "train", "eval"])
out["bn2d_cumulative"] = run(nn.BatchNorm2d(4, momentum=None), (3, 4, 2, 3), ["train", "train", "train", "eval"])
out["bn1d_nc"] = run(nn.BatchNorm1d(5), (6, 5), ["train", "train", "eval"])
out["bn1d_ncl"] = run(nn.BatchNorm1d(3), (2, 3, 4), ["train", "train", "eval"])
out["bn2d_no_affine"] = run(nn.BatchNorm2d(3, affine=False), (2, 3, 3, 2), ["train", "eval"])
out["bn2d_no_tracking"] = run(nn.BatchNorm2d(3, track_running_stats=False), (2, 3, 3, 2), ["train", "eval"])
out["bn2d_eps_momentum"] = run(nn.BatchNorm2d(3, eps=1e-3, momentum=0.3), (4, 3, 2, 2), ["train", "train", "eval"])
out["layernorm"] = run(nn.LayerNorm([4, 5]), (3, 4, 5), ["train", "eval"])
out["layernorm_no_affine"] = run(nn.LayerNorm([6], elementwise_affine=False), (4, 6), ["train"])
out["groupnorm"] = run(nn.GroupNorm(2, 6), (3, 6, 2, 2), ["train", "eval"])
out["groupnorm_no_affine"] = run(nn.GroupNorm(3, 3, affine=False), (2, 3, 5), ["train"])
out["instancenorm"] = run(nn.InstanceNorm2d(3), (2, 3, 3, 3), ["train", "eval"])
out["instancenorm_tracking"] = run(nn.InstanceNorm2d(3, affine=True, track_running_stats=True),
                                   (2, 3, 3, 3), ["train", "train", "eval"])

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "norm.json"), "w") as f:
    json.dump(out, f)
