"""Reference values for the core tests, computed by PyTorch.

Run from the repository root with a Python that has torch:
    python Tests/StrataTests/Fixtures/make_core_fixtures.py
It rewrites core.json beside this file. The tests only read the JSON.
"""
import json, os
import torch

torch.manual_seed(0)
out = {"torch_version": torch.__version__}

def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]

# Linear forward/backward.
x = torch.randn(4, 5, requires_grad=True)
lin = torch.nn.Linear(5, 3)
y = lin(x)
g = torch.randn(4, 3)
y.backward(g)
out["linear"] = {"x": flat(x), "weight": flat(lin.weight), "bias": flat(lin.bias), "y": flat(y), "g": flat(g),
                 "dx": flat(x.grad), "dweight": flat(lin.weight.grad), "dbias": flat(lin.bias.grad)}

# Losses.
logits = (torch.randn(6, 4) * 3).requires_grad_()
labels = torch.tensor([0, 3, 1, 1, 2, 0])
for name, red in [("mean", "mean"), ("sum", "sum")]:
    logits.grad = None
    loss = torch.nn.functional.cross_entropy(logits, labels, reduction=red)
    loss.backward()
    out[f"cross_entropy_{name}"] = {"logits": flat(logits), "labels": labels.tolist(), "loss": float(loss), "dlogits": flat(logits.grad)}
big = torch.tensor([[1000.0, 0.0, -1000.0], [-50.0, 50.0, 0.0]], requires_grad=True)
loss = torch.nn.functional.cross_entropy(big, torch.tensor([2, 1]))
loss.backward()
out["cross_entropy_extreme"] = {"logits": flat(big), "labels": [2, 1], "loss": float(loss), "dlogits": flat(big.grad)}
lp = torch.log_softmax(torch.randn(3, 5), dim=1).requires_grad_()
loss = torch.nn.functional.nll_loss(lp, torch.tensor([4, 0, 2]))
loss.backward()
out["nll"] = {"logp": flat(lp), "labels": [4, 0, 2], "loss": float(loss), "dlogp": flat(lp.grad)}
p = torch.randn(2, 3, requires_grad=True); t = torch.randn(2, 3)
loss = torch.nn.functional.mse_loss(p, t)
loss.backward()
out["mse"] = {"pred": flat(p), "target": flat(t), "loss": float(loss), "dpred": flat(p.grad)}

# Activations.
a = torch.linspace(-4, 4, 17)
out["activations"] = {"x": flat(a), "gelu": flat(torch.nn.functional.gelu(a)), "sigmoid": flat(torch.sigmoid(a)),
                      "tanh": flat(torch.tanh(a)), "leaky_relu": flat(torch.nn.functional.leaky_relu(a))}

# Optimisers: 4 steps on fixed gradients.
p0 = torch.randn(7)
grads = [torch.randn(7) for _ in range(4)]
def run(make):
    p = torch.nn.Parameter(p0.clone())
    opt = make([p])
    for gr in grads:
        p.grad = gr.clone()
        opt.step()
    return flat(p)
cfgs = {
    "sgd_plain": lambda ps: torch.optim.SGD(ps, lr=0.1),
    "sgd_momentum": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
    "sgd_dampening_wd": lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01),
    "sgd_nesterov": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
    "adam": lambda ps: torch.optim.Adam(ps, lr=0.01),
    "adam_wd": lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
    "adamw": lambda ps: torch.optim.AdamW(ps, lr=0.01),
    "adamw_wd": lambda ps: torch.optim.AdamW(ps, lr=0.02, weight_decay=0.3),
}
out["optim"] = {"p0": flat(p0), "grads": [flat(g) for g in grads], "results": {k: run(f) for k, f in cfgs.items()}}

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "core.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print("wrote", path)
