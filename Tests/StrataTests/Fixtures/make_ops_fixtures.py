"""Reference values for the tensor-op tests (OpsFixtureTests), computed by PyTorch.

Run from the repository root with a Python that has torch:
    python3 Tests/StrataTests/Fixtures/make_ops_fixtures.py
It rewrites ops.json beside this file. The tests only read the JSON.
Each case stores the inputs, the output, an output gradient g and the input
gradients of backward(g).
"""
import json, os
import torch
import torch.nn.functional as F

torch.manual_seed(0)
out = {"torch_version": torch.__version__}

def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]

def backward(y, *xs):
    g = torch.randn(y.shape)
    y.backward(g)
    return flat(g), [flat(x.grad) for x in xs]

# pad: every mode on a 4-D input (last two dims), one 1-D pad, one crop.
pads = []
for shape, pad, mode, value in [
    ([1, 2, 3, 4], [2, 1, 1, 2], "reflect", 0.0),
    ([1, 2, 3, 4], [2, 1, 1, 2], "replicate", 0.0),
    ([1, 2, 3, 4], [2, 1, 1, 2], "circular", 0.0),
    ([1, 2, 3, 4], [2, 1, 1, 2], "constant", 0.5),
    ([2, 3, 5], [3, 1], "reflect", 0.0),
    ([2, 3, 5], [-1, 2], "constant", 0.0),
]:
    x = torch.randn(shape, requires_grad=True)
    y = F.pad(x, pad, mode=mode, value=value) if mode == "constant" else F.pad(x, pad, mode=mode)
    g, (dx,) = backward(y, x)
    pads.append({"shape": shape, "pad": pad, "mode": mode, "value": value, "x": flat(x),
                 "y_shape": list(y.shape), "y": flat(y), "g": g, "dx": dx})
out["pad"] = pads

# gather along two axes, with repeated indices.
gathers = []
for shape, dim, index_shape in [([3, 4, 5], 1, [3, 2, 5]), ([3, 4, 5], 2, [2, 4, 3]), ([4, 3], 0, [6, 2])]:
    x = torch.randn(shape, requires_grad=True)
    index = torch.randint(0, shape[dim], index_shape)
    y = torch.gather(x, dim, index)
    g, (dx,) = backward(y, x)
    gathers.append({"shape": shape, "dim": dim, "index_shape": index_shape, "index": index.reshape(-1).tolist(),
                    "x": flat(x), "y": flat(y), "g": g, "dx": dx})
out["gather"] = gathers

# max/min with indices and amax/amin, on rows with ties.
ties = torch.tensor([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 1.0, 2.0], [5.0, 1.0, 5.0, 5.0]])
ext = {"x": flat(ties), "shape": list(ties.shape)}
for name, fn in [("max", lambda t: torch.max(t, 1)), ("min", lambda t: torch.min(t, 1))]:
    x = ties.clone().requires_grad_()
    values, indices = fn(x)
    g, (dx,) = backward(values, x)
    ext[name] = {"values": flat(values), "indices": indices.tolist(), "g": g, "dx": dx}
for name, fn in [("amax0", lambda t: torch.amax(t, 0)), ("amin1", lambda t: torch.amin(t, 1)),
                 ("amax_all", lambda t: torch.amax(t))]:
    x = ties.clone().requires_grad_()
    y = fn(x)
    g, (dx,) = backward(y, x)
    ext[name] = {"values": flat(y), "g": g, "dx": dx}
out["extrema"] = ext

# where with broadcasting of all three operands.
cond = torch.rand(2, 1, 4) > 0.5
a = torch.randn(2, 3, 4, requires_grad=True)
b = torch.randn(3, 1, requires_grad=True)
y = torch.where(cond, a, b)
g, (da, db) = backward(y, a, b)
out["where"] = {"cond": flat(cond.float()), "a": flat(a), "b": flat(b), "y": flat(y), "g": g, "da": da, "db": db}

# maximum / minimum with ties and broadcasting; clamp with values on the bounds.
a = torch.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 4.0]], requires_grad=True)
b = torch.tensor([2.0, 2.0, 0.0], requires_grad=True)
mm = {"a": flat(a), "b": flat(b)}
for name, fn in [("maximum", torch.maximum), ("minimum", torch.minimum)]:
    a.grad = None; b.grad = None
    y = fn(a, b)
    g, (da, db) = backward(y, a, b)
    mm[name] = {"y": flat(y), "g": g, "da": da, "db": db}
out["maximum_minimum"] = mm
x = torch.tensor([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0], requires_grad=True)
y = torch.clamp(x, -1.0, 1.0)
g, (dx,) = backward(y, x)
out["clamp"] = {"x": flat(x), "min": -1.0, "max": 1.0, "y": flat(y), "g": g, "dx": dx}

# topk along the last axis.
x = torch.randn(3, 6, requires_grad=True)
values, indices = torch.topk(x, 3, dim=1)
g, (dx,) = backward(values, x)
out["topk"] = {"x": flat(x), "k": 3, "values": flat(values), "indices": indices.reshape(-1).tolist(), "g": g, "dx": dx}

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ops.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print("wrote", path)
