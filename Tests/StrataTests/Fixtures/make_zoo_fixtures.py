"""Reference models of the model zoo (Sources/StrataNN/Models), from PyTorch.

Run from the repository root with a Python that has torch and safetensors:
    python3 Tests/StrataTests/Fixtures/make_zoo_fixtures.py
It rewrites zoo.json and zoo_<model>.safetensors beside this file. The tests
only read those files.

torchvision is not needed: its ResNet, VGG and MobileNetV2 are written out
below with torchvision's module names, layer order and initialisation (the
script checks the parameter counts against torchvision's published ones),
and the CIFAR ResNets and the small U-Net are written with the names the
Swift models use.

zoo.json, per full-size model: "state_dict" ([key, shape] of every entry
of state_dict(), in order), "parameter_count", and "modules" ([name, type]
of named_modules(), root first with the empty name) and "repr", the
printed module tree.

zoo_<model>.safetensors, per narrow model (fewer channels, same keys; full
weights would be tens of megabytes), for the numerics:
- "state.<key>": the state dict, floats stored as F16 (the model computes
  with exactly these values), num_batches_tracked as I64. BatchNorm
  weight, bias and running statistics are randomised so eval mode does not
  see the identity.
- "x": the input; "y_eval": the output in eval mode; then one forward in
  train mode (batch statistics): "y_train", and "after.<key>" every buffer
  afterwards (running_mean, running_var, num_batches_tracked).
Dropout is set to p = 0 in the narrow VGG and MobileNetV2 so train mode
is deterministic. The script checks each fixture against float64 (see
check_conditioning).
"""
import copy, json, os
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))


# ---- ResNet (torchvision's, basic blocks) -------------------------------

class BasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(planes))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


def make_stages(blocks, widths, inplanes):
    stages = []
    for i, (n, w) in enumerate(zip(blocks, widths)):
        layers = []
        for b in range(n):
            layers.append(BasicBlock(inplanes, w, stride=2 if (b == 0 and i > 0) else 1))
            inplanes = w
        stages.append(nn.Sequential(*layers))
    return stages


def init_resnet(model):
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)


class ResNet(nn.Module):
    """torchvision.models.ResNet with BasicBlock; base_width=64 is torchvision's."""

    def __init__(self, layers, num_classes=1000, base_width=64):
        super().__init__()
        w = base_width
        self.conv1 = nn.Conv2d(3, w, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1, self.layer2, self.layer3, self.layer4 = make_stages(layers, [w, 2 * w, 4 * w, 8 * w], w)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(8 * w, num_classes)
        init_resnet(self)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class CIFARResNet(nn.Module):
    """He et al. 2016 §4.2, depth 6n+2, 1x1 projection shortcuts (option B)."""

    def __init__(self, depth, num_classes=10, base_width=16):
        super().__init__()
        n = (depth - 2) // 6
        w = base_width
        self.conv1 = nn.Conv2d(3, w, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.relu = nn.ReLU(inplace=True)
        self.layer1, self.layer2, self.layer3 = make_stages([n, n, n], [w, 2 * w, 4 * w], w)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(4 * w, num_classes)
        init_resnet(self)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.relu(self.bn1(self.conv1(x))))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


# ---- VGG (torchvision's) -------------------------------------------------

VGG_A = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]
VGG_B = [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]
VGG_D = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
VGG_E = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]


class VGG(nn.Module):
    """torchvision.models.VGG(make_layers(cfg, batch_norm)); base_width and hidden are 64 and 4096 there."""

    def __init__(self, cfg, batch_norm, num_classes=1000, dropout=0.5, base_width=64, hidden=4096):
        super().__init__()
        layers, c = [], 3
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
                continue
            v = v * base_width // 64
            layers.append(nn.Conv2d(c, v, kernel_size=3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(v))
            layers.append(nn.ReLU(inplace=True))
            c = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(c * 7 * 7, hidden), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(hidden, hidden), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(hidden, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.constant_(m.bias, 0)

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


# ---- MobileNetV2 (torchvision's) -----------------------------------------

def make_divisible(v, divisor):
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class Conv2dNormActivation(nn.Sequential):
    def __init__(self, cin, cout, kernel_size=3, stride=1, groups=1):
        super().__init__(
            nn.Conv2d(cin, cout, kernel_size, stride, (kernel_size - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout), nn.ReLU6(inplace=True))


class InvertedResidual(nn.Module):
    def __init__(self, inp, oup, stride, expand_ratio):
        super().__init__()
        hidden = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers = []
        if expand_ratio != 1:
            layers.append(Conv2dNormActivation(inp, hidden, kernel_size=1))
        layers += [Conv2dNormActivation(hidden, hidden, stride=stride, groups=hidden),
                   nn.Conv2d(hidden, oup, 1, 1, 0, bias=False), nn.BatchNorm2d(oup)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    SETTING = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]]

    def __init__(self, num_classes=1000, width_mult=1.0, round_nearest=8, dropout=0.2):
        super().__init__()
        c = make_divisible(32 * width_mult, round_nearest)
        self.last_channel = make_divisible(1280 * max(1.0, width_mult), round_nearest)
        features = [Conv2dNormActivation(3, c, stride=2)]
        for t, ch, n, s in self.SETTING:
            out = make_divisible(ch * width_mult, round_nearest)
            for i in range(n):
                features.append(InvertedResidual(c, out, s if i == 0 else 1, t))
                c = out
        features.append(Conv2dNormActivation(c, self.last_channel, kernel_size=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(self.last_channel, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


# ---- U-Net (the Swift model's names) -------------------------------------

class DoubleConv(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.double_conv = nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())

    def forward(self, x):
        return self.double_conv(x)


class UNet(nn.Module):
    def __init__(self, in_channels=3, num_classes=2, base_width=64):
        super().__init__()
        w = base_width
        self.inc = DoubleConv(in_channels, w)
        self.down1 = nn.Sequential(nn.MaxPool2d(2), DoubleConv(w, 2 * w))
        self.down2 = nn.Sequential(nn.MaxPool2d(2), DoubleConv(2 * w, 4 * w))
        self.up1 = nn.ConvTranspose2d(4 * w, 2 * w, 2, stride=2)
        self.dec1 = DoubleConv(4 * w, 2 * w)
        self.up2 = nn.ConvTranspose2d(2 * w, w, 2, stride=2)
        self.dec2 = DoubleConv(2 * w, w)
        self.outc = nn.Conv2d(w, num_classes, 1)

    def forward(self, x):
        s1 = self.inc(x)
        s2 = self.down1(s1)
        d1 = self.dec1(torch.cat([s2, self.up1(self.down2(s2))], 1))
        return self.outc(self.dec2(torch.cat([s1, self.up2(d1)], 1)))


# ---- fixtures ------------------------------------------------------------

# torchvision's published parameter counts: the models above match them.
TORCHVISION_COUNTS = {"resnet18": 11689512, "resnet34": 21797672, "vgg11_bn": 132868840, "mobilenet_v2": 3504872}

FULL = {
    "resnet20": lambda: CIFARResNet(20),
    "resnet32": lambda: CIFARResNet(32),
    "resnet56": lambda: CIFARResNet(56),
    "resnet18": lambda: ResNet([2, 2, 2, 2]),
    "resnet34": lambda: ResNet([3, 4, 6, 3]),
    "vgg11_bn": lambda: VGG(VGG_A, True),
    # Full convolution widths, 256-wide hidden layers: the Swift test builds
    # this one (the 4096-wide head alone has 119M weights).
    "vgg11_bn_hidden256": lambda: VGG(VGG_A, True, hidden=256),
    # The other configurations, narrow (their layout and indices are the point).
    "vgg13_bn_narrow": lambda: VGG(VGG_B, True, base_width=8, hidden=32),
    "vgg16_narrow": lambda: VGG(VGG_D, False, base_width=8, hidden=32),
    "vgg19_bn_narrow": lambda: VGG(VGG_E, True, base_width=8, hidden=32),
    "mobilenet_v2": lambda: MobileNetV2(),
    "mobilenet_v2_x0.35": lambda: MobileNetV2(width_mult=0.35),
    "mobilenet_v2_x1.4": lambda: MobileNetV2(width_mult=1.4),
    "unet": lambda: UNet(),
}

# name: (narrow model, input shape)
NARROW = {
    "resnet20": (lambda: CIFARResNet(20), [2, 3, 32, 32]),
    "resnet32": (lambda: CIFARResNet(32, base_width=8), [2, 3, 32, 32]),
    "resnet56": (lambda: CIFARResNet(56, base_width=8), [2, 3, 32, 32]),
    "resnet18": (lambda: ResNet([2, 2, 2, 2], num_classes=10, base_width=8), [2, 3, 32, 32]),
    "resnet34": (lambda: ResNet([3, 4, 6, 3], num_classes=10, base_width=8), [2, 3, 32, 32]),
    "vgg11_bn": (lambda: VGG(VGG_A, True, num_classes=10, dropout=0.0, base_width=8, hidden=32), [2, 3, 32, 32]),
    # 64x64: at 32x32 the last blocks normalise 1x1 maps over 4 samples and
    # float32 itself strays 3.5e-4 from float64 in train mode.
    "mobilenet_v2": (lambda: MobileNetV2(num_classes=10, width_mult=0.25, dropout=0.0), [4, 3, 64, 64]),
    "unet": (lambda: UNet(base_width=8), [2, 3, 16, 16]),
}


def full_entry(name, model):
    count = sum(p.numel() for p in model.parameters())
    if name in TORCHVISION_COUNTS:
        assert count == TORCHVISION_COUNTS[name], (name, count)
    return {
        "state_dict": [[k, list(v.shape)] for k, v in model.state_dict().items()],
        "parameter_count": count,
        "modules": [[n, type(m).__name__] for n, m in model.named_modules()],
        "repr": repr(model),
    }


def narrow_tensors(model, shape, gen):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(torch.rand(c, generator=gen) * 0.4 + 0.8)
                m.bias.copy_(torch.randn(c, generator=gen) * 0.1)
                m.running_mean.copy_(torch.randn(c, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
                m.num_batches_tracked.fill_(5)
        for v in model.state_dict().values():
            if v.is_floating_point():
                v.copy_(v.half().float())
    out = {}
    for k, v in model.state_dict().items():
        out["state." + k] = v.half() if v.is_floating_point() else v.clone()
    x = torch.randn(shape, generator=gen)
    out["x"] = x
    with torch.no_grad():
        model.eval()
        out["y_eval"] = model(x)
        model.train()
        out["y_train"] = model(x)
    for k, v in model.named_buffers():
        out["after." + k] = v.clone()
    check_conditioning(model, out)
    return {k: v.contiguous() for k, v in out.items()}


def check_conditioning(model, out):
    """Stops unless float64 gives the same outputs within 3e-5 of their
    largest magnitude: a fixture that float32 cannot reproduce to well
    inside the tests' 1e-4 would fail for rounding, not for a bug."""
    ref = copy.deepcopy(model)
    ref.load_state_dict({k[6:]: v for k, v in out.items() if k.startswith("state.")})
    ref = ref.double()
    x = out["x"].double()
    with torch.no_grad():
        ref.eval()
        y_eval = ref(x)
        ref.train()
        y_train = ref(x)
    for key, y64 in (("y_eval", y_eval), ("y_train", y_train)):
        err = float((out[key].double() - y64).abs().max() / y64.abs().max())
        assert err < 3e-5, (key, err)


def main():
    torch.manual_seed(0)
    full = {name: full_entry(name, make()) for name, make in FULL.items()}
    with open(os.path.join(HERE, "zoo.json"), "w") as f:
        json.dump(full, f, separators=(",", ":"))
    for name, (make, shape) in NARROW.items():
        torch.manual_seed(1)
        gen = torch.Generator().manual_seed(2)
        save_file(narrow_tensors(make(), shape, gen), os.path.join(HERE, f"zoo_{name}.safetensors"),
                  metadata={"format": "pt"})
    print("wrote zoo.json and", len(NARROW), "zoo_*.safetensors")


if __name__ == "__main__":
    main()
