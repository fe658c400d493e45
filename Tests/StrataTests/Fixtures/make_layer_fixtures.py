"""Reference values for the layers of LayerZooTests (activations, transposed
and 1-D convolution, padding modes, upsampling, pooling modes, InstanceNorm1d),
computed by PyTorch.

Run from the repository root with a Python that has torch:
    python Tests/StrataTests/Fixtures/make_layer_fixtures.py
It rewrites layers.json beside this file. The tests only read the JSON.

Each entry holds the input x, the layer's parameters after a seeded random
fill, the output y, a random output gradient g, and the gradients of x and
of every parameter (key "d" + parameter name).
"""
import json, os
import torch
import torch.nn as nn

torch.manual_seed(0)
out = {"torch_version": torch.__version__}


def flat(t):
    return [round(float(v), 7) for v in t.detach().reshape(-1).tolist()]


def record(name, module, x, extra=None):
    """Runs module on x, backpropagates a random g, stores everything."""
    x = x.clone().requires_grad_(True)
    y = module(x)
    g = torch.randn_like(y)
    y.backward(g)
    entry = {"x_shape": list(x.shape), "x": flat(x), "y_shape": list(y.shape), "y": flat(y),
             "g": flat(g), "dx": flat(x.grad)}
    for pname, p in module.named_parameters():
        entry[pname] = flat(p)
        entry[pname + "_shape"] = list(p.shape)
        entry["d" + pname] = flat(p.grad)
    entry["keys"] = list(module.state_dict().keys())
    if extra:
        entry.update(extra)
    out[name] = entry


def randomize(module):
    """Replaces every parameter by seeded random values (not the default init)."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
    return module


# Activations on values spread over the kinks (-3, 0, 3, 6) and the softplus threshold.
act_x = torch.randn(2, 3, 4, 5) * 4
acts = {
    "silu": nn.SiLU(), "elu": nn.ELU(), "elu_alpha": nn.ELU(alpha=0.7), "relu6": nn.ReLU6(),
    "hardtanh": nn.Hardtanh(), "hardtanh_range": nn.Hardtanh(min_val=-0.5, max_val=1.5),
    "hardswish": nn.Hardswish(), "hardsigmoid": nn.Hardsigmoid(), "mish": nn.Mish(),
    "softplus": nn.Softplus(), "softplus_beta": nn.Softplus(beta=2.0, threshold=5.0),
}
for name, m in acts.items():
    record("act_" + name, m, act_x)
record("act_prelu_shared", nn.PReLU(), act_x)
prelu = nn.PReLU(num_parameters=3, init=0.1)
with torch.no_grad():
    prelu.weight.copy_(torch.tensor([0.1, -0.3, 0.6]))
record("act_prelu_channels", prelu, act_x)

# ConvTranspose2d: name -> (x shape, out channels, kernel, stride, padding, output_padding, groups, dilation, bias)
convts = {
    "basic": ((2, 3, 4, 5), 2, (3, 3), (1, 1), (0, 0), (0, 0), 1, (1, 1), True),
    "strided_grouped": ((2, 4, 3, 4), 6, (3, 2), (2, 1), (1, 0), (1, 0), 2, (1, 1), True),
    "dilated_outpad": ((1, 2, 4, 3), 3, (3, 3), (2, 2), (1, 1), (1, 1), 1, (2, 2), True),
    "depthwise_nobias": ((2, 4, 3, 3), 4, (2, 2), (2, 2), (0, 0), (0, 0), 4, (1, 1), False),
    "asymmetric": ((1, 3, 3, 4), 2, (2, 4), (3, 2), (0, 1), (2, 1), 1, (1, 2), True),
}
for name, (shape, oc, k, s, p, op, groups, d, bias) in convts.items():
    m = randomize(nn.ConvTranspose2d(shape[1], oc, k, stride=s, padding=p, output_padding=op,
                                     groups=groups, dilation=d, bias=bias))
    record("convt_" + name, m, torch.randn(*shape),
           {"out_channels": oc, "kernel": list(k), "stride": list(s), "padding": list(p),
            "output_padding": list(op), "groups": groups, "dilation": list(d)})

# Conv2d padding modes: name -> (x shape, out channels, kernel, stride, padding, mode)
padded = {
    "reflect": ((2, 2, 5, 6), 3, (3, 3), (1, 1), (1, 1), "reflect"),
    "replicate": ((1, 2, 4, 5), 2, (3, 2), (1, 2), (2, 1), "replicate"),
    "circular": ((2, 3, 5, 4), 2, (3, 3), (2, 1), (1, 2), "circular"),
    "reflect_wide": ((1, 1, 4, 6), 2, (2, 5), (1, 1), (3, 2), "reflect"),
}
for name, (shape, oc, k, s, p, mode) in padded.items():
    m = randomize(nn.Conv2d(shape[1], oc, k, stride=s, padding=p, padding_mode=mode))
    record("conv2d_" + name, m, torch.randn(*shape),
           {"out_channels": oc, "kernel": list(k), "stride": list(s), "padding": list(p), "padding_mode": mode})

# Conv1d: name -> (x shape, out channels, kernel, stride, padding, dilation, groups, bias, mode)
conv1ds = {
    "basic": ((2, 3, 10), 4, 3, 2, 1, 1, 1, True, "zeros"),
    "grouped_dilated": ((2, 3, 9), 6, 2, 1, 0, 2, 3, False, "zeros"),
    "reflect": ((1, 2, 7), 3, 3, 1, 2, 1, 1, True, "reflect"),
    "circular": ((2, 2, 6), 2, 3, 2, 1, 1, 2, True, "circular"),
    "same": ((1, 2, 8), 3, 4, 1, "same", 1, 1, True, "zeros"),
}
for name, (shape, oc, k, s, p, d, groups, bias, mode) in conv1ds.items():
    m = randomize(nn.Conv1d(shape[1], oc, k, stride=s, padding=p, dilation=d, groups=groups,
                            bias=bias, padding_mode=mode))
    record("conv1d_" + name, m, torch.randn(*shape),
           {"out_channels": oc, "kernel": k, "stride": s, "padding": p, "dilation": d,
            "groups": groups, "padding_mode": mode})

# Upsample: name -> (x shape, kwargs)
ups = {
    "nearest_scale2": ((1, 2, 3, 4), dict(scale_factor=2, mode="nearest")),
    "nearest_size": ((2, 1, 3, 4), dict(size=(5, 7), mode="nearest")),
    "nearest_down": ((1, 2, 5, 6), dict(size=(3, 4), mode="nearest")),
    "nearest_scale_frac": ((1, 1, 4, 5), dict(scale_factor=(1.5, 2.5), mode="nearest")),
    "bilinear_scale2": ((1, 2, 3, 4), dict(scale_factor=2, mode="bilinear", align_corners=False)),
    "bilinear_size_ac": ((2, 1, 3, 4), dict(size=(5, 7), mode="bilinear", align_corners=True)),
    "bilinear_scale2_ac": ((1, 2, 3, 3), dict(scale_factor=2, mode="bilinear", align_corners=True)),
    "bilinear_down": ((1, 1, 5, 6), dict(size=(3, 4), mode="bilinear", align_corners=False)),
    "bilinear_scale_frac": ((1, 1, 4, 5), dict(scale_factor=(1.5, 2.5), mode="bilinear", align_corners=False)),
}
for name, (shape, kw) in ups.items():
    sf = kw.get("scale_factor")
    record("up_" + name, nn.Upsample(**kw), torch.randn(*shape),
           {"mode": kw["mode"], "align_corners": kw.get("align_corners", False),
            "size": list(kw["size"]) if "size" in kw else None,
            "scale_factor": (list(sf) if isinstance(sf, tuple) else [sf, sf]) if sf is not None else None})

# Pooling modes: name -> (x shape, class, kwargs)
pools = {
    "max_ceil": ((2, 2, 6, 7), nn.MaxPool2d, dict(kernel_size=3, stride=2, ceil_mode=True)),
    "max_ceil_pad": ((1, 2, 5, 8), nn.MaxPool2d, dict(kernel_size=(2, 3), stride=(2, 2), padding=(1, 1), ceil_mode=True)),
    "max_dilated": ((1, 2, 7, 8), nn.MaxPool2d, dict(kernel_size=3, stride=1, padding=1, dilation=2)),
    "max_dilated_ceil": ((2, 1, 8, 9), nn.MaxPool2d, dict(kernel_size=2, stride=3, dilation=(2, 3), ceil_mode=True)),
    "avg_ceil": ((2, 2, 6, 7), nn.AvgPool2d, dict(kernel_size=3, stride=2, ceil_mode=True)),
    "avg_ceil_pad": ((1, 2, 5, 8), nn.AvgPool2d, dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    "avg_exclude_pad": ((1, 2, 5, 6), nn.AvgPool2d, dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
    "avg_ceil_exclude": ((2, 1, 7, 6), nn.AvgPool2d, dict(kernel_size=(3, 2), stride=2, padding=(1, 1),
                                                        ceil_mode=True, count_include_pad=False)),
    "adaptive_max_3x4": ((2, 2, 5, 7), nn.AdaptiveMaxPool2d, dict(output_size=(3, 4))),
    "adaptive_max_2": ((1, 3, 4, 4), nn.AdaptiveMaxPool2d, dict(output_size=2)),
    "adaptive_max_1": ((2, 2, 3, 5), nn.AdaptiveMaxPool2d, dict(output_size=1)),
    "adaptive_max_up": ((1, 1, 3, 2), nn.AdaptiveMaxPool2d, dict(output_size=(4, 3))),
}
for name, (shape, cls, kw) in pools.items():
    record("pool_" + name, cls(**kw), torch.randn(*shape), {"kwargs": {k: (list(v) if isinstance(v, tuple) else v) for k, v in kw.items()}})

# InstanceNorm1d: train-mode output and gradients; with running statistics,
# the buffers after that step and an eval-mode output.
for name, kw in {"plain": {}, "affine": dict(affine=True), "tracked": dict(affine=True, track_running_stats=True)}.items():
    m = nn.InstanceNorm1d(3, **kw)
    if kw.get("affine"):
        randomize(m)
    record("in1d_" + name, m, torch.randn(2, 3, 6) * 2 + 1)
    if kw.get("track_running_stats"):
        out["in1d_" + name]["running_mean"] = flat(m.running_mean)
        out["in1d_" + name]["running_var"] = flat(m.running_var)
        m.eval()
        xe = torch.randn(2, 3, 5)
        out["in1d_" + name]["eval_x"] = flat(xe)
        out["in1d_" + name]["eval_y"] = flat(m(xe))

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "layers.json")
with open(path, "w") as f:
    json.dump(out, f, separators=(",", ":"))
print(path, os.path.getsize(path), "bytes")
