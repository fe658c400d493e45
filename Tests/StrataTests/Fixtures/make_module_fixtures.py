"""Reference module trees for the module-reflection and printing tests, from PyTorch.

Run from the repository root with a Python that has torch:
    python3 Tests/StrataTests/Fixtures/make_module_fixtures.py
It rewrites module.json beside this file. The tests only read the JSON.

Each case is a model written as a PyTorch user writes it; the Swift tests
build the same architecture as a Swift user writes it (stored properties,
no explicit lists) and compare:
- "state_dict": [key, shape] for every entry of `state_dict()`, in order;
- "parameters": [key, shape] for every entry of `named_parameters()`;
- "parameter_count": the number of trainable scalars;
- "repr": `repr(model)`, PyTorch's printed module tree.
"""
import json, os
import torch
import torch.nn as nn


class BasicBlock(nn.Module):
    """torchvision's ResNet basic block, small."""

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class SmallResNet(nn.Module):
    """A ResNet-like net: stem, a ModuleList stage, a Sequential stage, head."""

    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        self.layer1 = nn.ModuleList([BasicBlock(8, 8), BasicBlock(8, 8)])
        self.layer2 = nn.Sequential(BasicBlock(8, 16, stride=2), BasicBlock(16, 16))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(16, classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        for block in self.layer1:
            x = block(x)
        return self.fc(self.flatten(self.pool(self.layer2(x))))


class Gated(nn.Module):
    """Own parameters, a buffer, a child and a parameter list, camelCase in Swift."""

    def __init__(self):
        super().__init__()
        self.gate_scale = nn.Parameter(torch.ones(4))
        self.register_buffer("running_scale", torch.ones(4))
        self.proj = nn.Linear(4, 4)
        self.gains = nn.ParameterList([nn.Parameter(torch.ones(4)), nn.Parameter(torch.ones(2, 3))])
        self.offset = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return self.proj(x * self.gate_scale) + self.offset


def layer_zoo():
    """Every built-in layer with a PyTorch twin, with non-default options too."""
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1, bias=False),
        nn.Conv2d(16, 16, 3, stride=2, padding=2, dilation=2, groups=4),
        nn.Conv2d(16, 8, (3, 5), padding="same"),
        nn.Conv2d(8, 8, 1, padding="valid"),
        nn.BatchNorm2d(8),
        nn.BatchNorm2d(8, eps=1e-3, momentum=None, affine=False),
        nn.InstanceNorm2d(8),
        nn.InstanceNorm2d(8, affine=True, track_running_stats=True),
        nn.GroupNorm(2, 8),
        nn.MaxPool2d(2),
        nn.MaxPool2d((2, 3), stride=1, padding=1),
        nn.AvgPool2d(2, stride=1),
        nn.AdaptiveAvgPool2d(1),
        nn.AdaptiveAvgPool2d((2, 3)),
        nn.ReLU(),
        nn.LeakyReLU(),
        nn.LeakyReLU(0.2),
        nn.Sigmoid(),
        nn.Tanh(),
        nn.GELU(),
        nn.Softmax(dim=-1),
        nn.LogSoftmax(dim=1),
        nn.Dropout(),
        nn.Dropout(0.25),
        nn.Flatten(),
        nn.Linear(8, 4),
        nn.Linear(4, 2, bias=False),
        nn.BatchNorm1d(2),
        nn.LayerNorm(8),
        nn.LayerNorm([4, 5], elementwise_affine=False),
        nn.Sequential(),
    )


def new_layer_zoo():
    """The layers of issue 11 part 3, with non-default options too."""
    return nn.Sequential(
        nn.SiLU(), nn.ELU(), nn.ELU(alpha=0.5), nn.Hardtanh(), nn.Hardtanh(-2.0, 3.0), nn.ReLU6(),
        nn.Hardswish(), nn.Hardsigmoid(), nn.Mish(), nn.Softplus(), nn.Softplus(beta=2.0, threshold=10.0),
        nn.PReLU(), nn.PReLU(num_parameters=4, init=0.1),
        nn.ConvTranspose2d(4, 8, 3),
        nn.ConvTranspose2d(8, 4, (3, 5), stride=2, padding=1, output_padding=1, groups=2, bias=False, dilation=2),
        nn.Conv1d(4, 8, 3),
        nn.Conv1d(8, 8, 5, stride=2, padding=2, dilation=2, groups=4, bias=False, padding_mode="reflect"),
        nn.Conv1d(8, 4, 4, padding="same", padding_mode="circular"),
        nn.Conv2d(4, 4, 3, padding=1, padding_mode="replicate"),
        nn.Upsample(scale_factor=2),
        nn.Upsample(scale_factor=(1.5, 2.0), mode="bilinear"),
        nn.Upsample(size=(5, 7), mode="bilinear", align_corners=True),
        nn.Upsample(size=6),
        nn.AdaptiveMaxPool2d(1), nn.AdaptiveMaxPool2d((2, 3)),
        nn.MaxPool2d(3, stride=2, padding=1, dilation=2, ceil_mode=True),
        nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
        nn.InstanceNorm1d(4), nn.InstanceNorm1d(4, eps=1e-3, momentum=None, affine=True, track_running_stats=True),
        nn.Identity(), nn.Dropout2d(), nn.Dropout2d(0.2),
    )


def describe(model):
    return {
        "state_dict": [[k, list(v.shape)] for k, v in model.state_dict().items()],
        "parameters": [[k, list(p.shape)] for k, p in model.named_parameters()],
        "parameter_count": sum(p.numel() for p in model.parameters()),
        "repr": repr(model),
    }


out = {
    "torch_version": torch.__version__,
    "block": describe(BasicBlock(8, 16, stride=2)),
    "resnet": describe(SmallResNet()),
    "gated": describe(Gated()),
    "zoo": describe(layer_zoo()),
    "new_zoo": describe(new_layer_zoo()),
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "module.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print("wrote", path)
