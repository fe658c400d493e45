"""Reference values for the convolution and pooling tests, computed by PyTorch.

Run from the repository root with a Python that has torch:
    python Tests/StrataTests/Fixtures/make_conv_fixtures.py
It rewrites conv.json beside this file. The tests only read the JSON.
"""
import json, os
import torch
import torch.nn.functional as F

torch.manual_seed(0)
out = {"torch_version": torch.__version__}

def flat(t):
    return [round(float(v), 7) for v in t.detach().reshape(-1).tolist()]

# Convolutions: name -> (x shape, out channels, kernel, stride, padding, dilation, groups, bias)
convs = {
    "basic": ((2, 3, 7, 6), 4, (3, 3), (1, 1), (1, 1), (1, 1), 1, True),
    "strided_grouped": ((2, 4, 9, 8), 6, (3, 2), (2, 1), (1, 2), (2, 1), 2, True),
    "same_even": ((1, 2, 6, 7), 3, (4, 2), (1, 1), "same", (1, 2), 1, True),
    "depthwise_nobias": ((3, 3, 8, 7), 3, (3, 3), (2, 2), (0, 0), (1, 1), 3, False),
    "pointwise": ((2, 5, 4, 3), 3, (1, 1), (1, 1), (0, 0), (1, 1), 1, True),
}
for name, (shape, oc, k, s, p, d, groups, bias) in convs.items():
    conv = torch.nn.Conv2d(shape[1], oc, k, stride=s, padding=p, dilation=d, groups=groups, bias=bias)
    x = torch.randn(*shape, requires_grad=True)
    y = conv(x)
    g = torch.randn_like(y)
    y.backward(g)
    entry = {"x_shape": list(shape), "out_channels": oc, "kernel": list(k), "stride": list(s),
             "padding": p if isinstance(p, str) else list(p), "dilation": list(d), "groups": groups,
             "x": flat(x), "weight": flat(conv.weight), "y_shape": list(y.shape), "y": flat(y), "g": flat(g),
             "dx": flat(x.grad), "dweight": flat(conv.weight.grad)}
    if bias:
        entry["bias"] = flat(conv.bias)
        entry["dbias"] = flat(conv.bias.grad)
    out["conv_" + name] = entry

# Pooling: name -> (x shape, op, kwargs)
pools = {
    "max_k3s2p1": ((2, 3, 7, 8), "max", dict(kernel_size=3, stride=2, padding=1)),
    "max_k2": ((1, 2, 6, 6), "max", dict(kernel_size=2)),
    "max_k32s12": ((1, 2, 7, 9), "max", dict(kernel_size=(3, 2), stride=(1, 2), padding=(1, 0))),
    "avg_k3s2p1": ((2, 3, 7, 8), "avg", dict(kernel_size=3, stride=2, padding=1)),
    "avg_k2": ((1, 2, 6, 5), "avg", dict(kernel_size=2)),
    "adaptive_3x4": ((2, 2, 5, 7), "adaptive", dict(output_size=(3, 4))),
    "adaptive_1x1": ((2, 3, 5, 6), "adaptive", dict(output_size=1)),
}
for name, (shape, kind, kw) in pools.items():
    x = torch.randn(*shape, requires_grad=True)
    if kind == "max":
        y = F.max_pool2d(x, **kw)
    elif kind == "avg":
        y = F.avg_pool2d(x, **kw)
    else:
        y = F.adaptive_avg_pool2d(x, **kw)
    g = torch.randn_like(y)
    y.backward(g)
    out["pool_" + name] = {"x_shape": list(shape), "x": flat(x), "y_shape": list(y.shape), "y": flat(y),
                           "g": flat(g), "dx": flat(x.grad)}

# Max-pool ties: PyTorch's CPU kernel gives the gradient to the first maximum.
x = torch.tensor([[[[1.0, 1.0, 0.0, 2.0], [1.0, 0.5, 2.0, 2.0]]]], requires_grad=True)
y = F.max_pool2d(x, 2)
y.backward(torch.tensor([[[[10.0, 20.0]]]]))
out["pool_max_ties"] = {"x": flat(x), "y": flat(y), "dx": flat(x.grad)}

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "conv.json")
with open(path, "w") as f:
    json.dump(out, f, separators=(",", ":"))
print(path, os.path.getsize(path), "bytes")
