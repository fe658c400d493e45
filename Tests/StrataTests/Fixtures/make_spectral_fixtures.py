"""Reference values for spectral normalization and weight normalization, from PyTorch.

Run from the repository root with a Python that has torch:
    python3 Tests/StrataTests/Fixtures/make_spectral_fixtures.py
It rewrites spectral.json beside this file. The tests only read the JSON.

Uses the classic hook forms `torch.nn.utils.spectral_norm` and
`torch.nn.utils.weight_norm`. Each case stores the wrapped module's
`state_dict()` (keys, shapes, values) before any forward, so the Swift test
loads PyTorch's state dict into its own wrapper, then compares:
- spectral norm: for 3 forwards in train mode, the output and the buffers
  weight_u and weight_v after each; the output in eval mode; the gradients
  of every parameter for loss = sum(eval output * r) with a stored r;
- weight norm: the output and the gradients of weight_g, weight_v, bias.
"""
import json, os, warnings
import torch
import torch.nn as nn

warnings.filterwarnings("ignore")  # the hook forms are deprecated in favour of parametrizations
torch.manual_seed(0)


def flat(t):
    return [float(x) for x in t.detach().reshape(-1).tolist()]


def state(module):
    return [[k, list(v.shape), flat(v)] for k, v in module.state_dict().items()]


def spectral_case(module, x, **kwargs):
    m = nn.utils.spectral_norm(module, **kwargs)
    case = {"state_dict": state(m), "input": flat(x), "input_shape": list(x.shape), "train": []}
    m.train()
    for _ in range(3):
        y = m(x)
        case["train"].append({"output": flat(y), "u": flat(m.weight_u), "v": flat(m.weight_v)})
    case["output_shape"] = list(y.shape)
    m.eval()
    y = m(x)
    r = torch.randn(y.shape)
    (y * r).sum().backward()
    case["eval_output"] = flat(y)
    case["r"] = flat(r)
    case["grads"] = {k: flat(p.grad) for k, p in m.named_parameters()}
    return case


def weight_norm_case(module, x, **kwargs):
    m = nn.utils.weight_norm(module, **kwargs)
    case = {"state_dict": state(m), "input": flat(x), "input_shape": list(x.shape)}
    y = m(x)
    r = torch.randn(y.shape)
    (y * r).sum().backward()
    case["output"] = flat(y)
    case["output_shape"] = list(y.shape)
    case["r"] = flat(r)
    case["grads"] = {k: flat(p.grad) for k, p in m.named_parameters()}
    return case


out = {"torch_version": torch.__version__}
out["spectral_linear"] = spectral_case(nn.Linear(5, 4), torch.randn(3, 5))
out["spectral_linear_2iter"] = spectral_case(nn.Linear(5, 4, bias=False), torch.randn(2, 5), n_power_iterations=2)
out["spectral_conv"] = spectral_case(nn.Conv2d(2, 3, 3, padding=1), torch.randn(2, 2, 4, 4))
out["spectral_conv_transpose"] = spectral_case(nn.ConvTranspose2d(3, 2, 3, stride=2), torch.randn(1, 3, 3, 3))
out["spectral_conv1d_dim1"] = spectral_case(nn.Conv1d(2, 3, 3), torch.randn(2, 2, 5), dim=1)
out["weight_norm_conv"] = weight_norm_case(nn.Conv2d(2, 3, 3, padding=1), torch.randn(2, 2, 4, 4))
out["weight_norm_linear_dim1"] = weight_norm_case(nn.Linear(5, 4), torch.randn(3, 5), dim=1)
out["weight_norm_linear_whole"] = weight_norm_case(nn.Linear(5, 4), torch.randn(3, 5), dim=None)

# A discriminator-style model: keys, shapes and the printed tree.
model = nn.Sequential(
    nn.utils.spectral_norm(nn.Conv2d(3, 8, 4, stride=2, padding=1)),
    nn.LeakyReLU(0.2),
    nn.utils.spectral_norm(nn.ConvTranspose2d(8, 4, 2, stride=2, bias=False)),
    nn.Flatten(),
    nn.utils.weight_norm(nn.Linear(16, 1)),
)
out["model"] = {"state_dict": [[k, list(v.shape)] for k, v in model.state_dict().items()],
                "parameters": [[k, list(p.shape)] for k, p in model.named_parameters()],
                "repr": repr(model)}

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "spectral.json")
with open(path, "w") as f:
    json.dump(out, f)
    f.write("\n")
print("wrote", path)
