#!/usr/bin/env python3
"""PyTorch side of `make bench-compare`.

Measures the workloads of WORKLOADS.md (and issue 14's ResNet-20 workloads) in PyTorch on CPU with the same
shapes, record ids, units and timing protocol as `strata-bench`
(Benchmarks/StrataBench/Harness.swift), and writes a JSON file of the same
layout: {"machine": {...}, "records": [...]}.

Timing protocol (identical on both sides): warm-up for 0.3 s and at least
2 calls; calls grouped so that one sample lasts >= 2 ms; samples taken for
1.5 s and at least 5; median, min, max, p10, p90 (linear interpolation).
Threads: torch.set_num_threads(t) for each t of --threads.

Usage: python Benchmarks/pytorch_bench.py [--filter ID] [--threads 1,2]
       [--quick] [--json PATH] [--epoch-reps N]
Needs torch and numpy (`python3 -m venv .venv && .venv/bin/pip install torch numpy`).
"""
import argparse
import copy
import datetime
import gzip
import json
import os
import platform
import resource
import socket
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.fusion import fuse_conv_bn_eval

FULL = dict(warmup_seconds=0.3, warmup_calls=2, min_sample_seconds=0.002,
            budget_seconds=1.5, min_samples=5, max_samples=1000)
QUICK = dict(warmup_seconds=0.05, warmup_calls=1, min_sample_seconds=0.001,
             budget_seconds=0.15, min_samples=3, max_samples=200)


def as_float(v):
    """A float read from a body's result (a tensor or a number)."""
    if isinstance(v, torch.Tensor):
        return float(v.detach().reshape(-1)[min(5, v.numel() - 1)])
    return float(v)


class Timer:
    def __init__(self, policy):
        self.p = policy

    def interleaved(self, bodies):
        """Times `bodies` interleaved, each on its own; returns [(seconds list, inner, checksum)]."""
        p = self.p
        checksum = [0.0] * len(bodies)
        inner = [1] * len(bodies)
        for b, body in enumerate(bodies):
            start = time.perf_counter()
            calls = 0
            while True:
                checksum[b] += as_float(body())
                calls += 1
                if calls >= p["warmup_calls"] and time.perf_counter() - start >= p["warmup_seconds"]:
                    break
            per_call = (time.perf_counter() - start) / calls
            inner[b] = max(1, int(np.ceil(p["min_sample_seconds"] / max(per_call, 1e-9))))
        seconds = [[] for _ in bodies]
        start = time.perf_counter()
        while True:
            for b, body in enumerate(bodies):
                k = inner[b]
                t0 = time.perf_counter()
                for _ in range(k):
                    last = body()
                t1 = time.perf_counter()
                checksum[b] += as_float(last)  # outside the timed region
                seconds[b].append((t1 - t0) / k)
            n = len(seconds[0])
            if n >= p["max_samples"]:
                break
            if n >= p["min_samples"] and time.perf_counter() - start >= p["budget_seconds"]:
                break
        return [(seconds[b], inner[b], checksum[b]) for b in range(len(bodies))]

    def measure(self, body):
        return self.interleaved([body])[0]

    def fixed(self, count, warmup, body):
        checksum = as_float(warmup())
        seconds = []
        for _ in range(max(count, 1)):
            t0 = time.perf_counter()
            v = body()
            seconds.append(time.perf_counter() - t0)
            checksum += as_float(v)
        return seconds, 1, checksum


def unit_value(unit, seconds, work):
    return {
        "ms": seconds * 1e3, "us": seconds * 1e6, "s": seconds,
        "GFLOP/s": work / seconds / 1e9 if work else 0, "GB/s": work / seconds / 1e9 if work else 0,
        "steps/s": 1 / seconds, "images/s": work / seconds,
    }[unit]


def make_record(rid, threads, unit, samples, work=0.0, flops=None, nbytes=None, note=None):
    seconds, inner, checksum = samples
    values = np.array([unit_value(unit, s, work) for s in seconds])
    med_s = float(np.median(seconds))
    r = {
        "id": rid, "threads": threads, "unit": unit,
        "value": float(np.median(values)), "median": float(np.median(values)),
        "min": float(values.min()), "max": float(values.max()),
        "p10": float(np.percentile(values, 10)), "p90": float(np.percentile(values, 90)),
        "samples": len(seconds), "inner": inner, "median_seconds": med_s, "checksum": checksum,
    }
    if flops is not None:
        r["gflops"] = flops / med_s / 1e9
    if nbytes is not None:
        r["gbps"] = nbytes / med_s / 1e9
    if note:
        r["note"] = note
    return r


class Run:
    def __init__(self, timer, quick, filters, epoch_reps):
        self.timer, self.quick, self.filters, self.epoch_reps = timer, quick, filters, epoch_reps
        self.records = []

    def wants(self, rid):
        return not self.filters or any(rid.startswith(f) for f in self.filters)

    def add(self, r):
        self.records.append(r)
        print(f"{r['id']:<24}{r['threads']:>4}{r['median']:>12.4g} {r['unit']:<9}"
              f"{r['min']:>10.4g}{r['p10']:>10.4g}{r['p90']:>10.4g}{r['samples']:>6}"
              + (f"  peak RSS {r['peak_rss_mb']:.1f} MB" if "peak_rss_mb" in r else ""), flush=True)


def conv_flops(batch, cin, cout, h, w, k):
    return 2.0 * batch * cout * h * w * cin * k * k


# ---------------------------------------------------------------- workloads

def w_gemm(run, t):
    n = 1024
    a, b = torch.randn(n, n), torch.randn(n, n)
    c = torch.empty(n, n)
    flops = 2.0 * n ** 3

    def lib():
        return torch.mm(a, b)

    def raw():
        torch.mm(a, b, out=c)
        return c

    # One after the other, as strata-bench does (there, interleaving let
    # OpenBLAS's spinning threads slow the library's product).
    s = [run.timer.measure(lib), run.timer.measure(raw)]
    r0 = make_record("gemm", t, "GFLOP/s", s[0], flops, flops, note="torch.mm(a, b), output allocated per call")
    r1 = make_record("gemm:raw-sgemm", t, "GFLOP/s", s[1], flops, flops, note="torch.mm(a, b, out=c), after gemm's samples")
    run.add(r0)
    run.add(r1)
    ratio = r0["median"] / r1["median"]
    run.add({"id": "gemm:ratio", "threads": t, "unit": "x", "value": ratio, "median": ratio, "min": ratio,
             "max": ratio, "p10": ratio, "p90": ratio, "samples": 0, "inner": 0, "median_seconds": 0,
             "checksum": 0, "note": "torch.mm allocating / torch.mm out="})


def w_linear(run, t):
    layer = nn.Linear(784, 512)
    x = torch.randn(256, 784, requires_grad=True)
    g = torch.randn(256, 512)

    def body():
        x.grad = None
        layer.zero_grad()
        layer(x).backward(g)
        return x.grad

    run.add(make_record("linear", t, "ms", run.timer.measure(body), flops=3 * 2.0 * 256 * 784 * 512,
                        note="forward + backward, input gradient included"))


def w_conv1(run, t):
    conv = nn.Conv2d(1, 32, 3, padding=1)
    x = torch.randn(128, 1, 28, 28, requires_grad=True)
    g = torch.randn(128, 32, 28, 28)

    def body():
        x.grad = None
        conv.zero_grad()
        conv(x).backward(g)
        return x.grad

    run.add(make_record("conv1", t, "ms", run.timer.measure(body), flops=3 * conv_flops(128, 1, 32, 28, 28, 3),
                        note="forward + backward, input gradient included"))


def w_conv2(run, t):
    conv = nn.Conv2d(32, 64, 3, padding=1)
    x = torch.randn(64, 32, 28, 28)
    g = torch.randn(64, 64, 28, 28)
    fwd = conv_flops(64, 32, 64, 28, 28, 3)
    if run.wants("conv2:fwd"):
        run.add(make_record("conv2:fwd", t, "ms", run.timer.measure(lambda: conv(x)), flops=fwd, note="forward"))
    if run.wants("conv2:fwd-bwd"):
        xg = x.clone().requires_grad_(True)

        def body():
            xg.grad = None
            conv.zero_grad()
            conv(xg).backward(g)
            return xg.grad

        run.add(make_record("conv2:fwd-bwd", t, "ms", run.timer.measure(body), flops=3 * fwd,
                            note="forward + backward, input gradient included"))


def w_bn2d(run, t):
    bn = nn.BatchNorm2d(64)
    x = torch.randn(64, 64, 28, 28)
    g = torch.randn(64, 64, 28, 28)
    size = x.numel() * 4.0
    if run.wants("bn2d:train-fwd"):
        bn.train()
        run.add(make_record("bn2d:train-fwd", t, "ms", run.timer.measure(lambda: bn(x)), nbytes=2 * size,
                            note="train mode, batch statistics, running stats updated"))
    if run.wants("bn2d:train-fwd-bwd"):
        bn.train()
        xg = x.clone().requires_grad_(True)

        def body():
            xg.grad = None
            bn.zero_grad()
            bn(xg).backward(g)
            return xg.grad

        run.add(make_record("bn2d:train-fwd-bwd", t, "ms", run.timer.measure(body), nbytes=5 * size,
                            note="train forward + backward, input gradient included"))
    if run.wants("bn2d:eval-fwd"):
        bn.eval()

        def body():
            with torch.no_grad():
                return bn(x)

        run.add(make_record("bn2d:eval-fwd", t, "ms", run.timer.measure(body), nbytes=2 * size,
                            note="eval mode, running statistics, no grad"))


def w_bn1d(run, t):
    bn = nn.BatchNorm1d(100)
    x = torch.randn(100, 100, requires_grad=True)
    g = torch.randn(100, 100)

    def body():
        x.grad = None
        bn.zero_grad()
        bn(x).backward(g)
        return x.grad

    run.add(make_record("bn1d", t, "us", run.timer.measure(body), nbytes=5 * 100 * 100 * 4.0,
                        note="train forward + backward, input gradient included"))


def train_step(model, opt, x, y):
    opt.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss.detach()


def w_mlp(run, t):
    layers, width = [], 784
    for _ in range(5):
        layers += [nn.Linear(width, 100), nn.BatchNorm1d(100), nn.ReLU()]
        width = 100
    layers.append(nn.Linear(100, 10))
    model = nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.randn(100, 784)
    y = torch.randint(0, 10, (100,))
    run.add(make_record("mlp-step", t, "steps/s", run.timer.measure(lambda: train_step(model, opt, x, y)),
                        note="zero_grad, forward, cross-entropy, backward, SGD step"))


def reference_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Linear(128, 10))


def w_cnn_step(run, t):
    model = reference_cnn()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x = torch.randn(128, 1, 28, 28)
    y = torch.randint(0, 10, (128,))
    run.add(make_record("cnn-step", t, "images/s", run.timer.measure(lambda: train_step(model, opt, x, y)),
                        work=128, note="forward, loss, backward, SGD momentum update"))


def read_idx(path):
    """(dims, uint8 array) of an IDX file, plain or .gz; None when absent or malformed."""
    for p, opener in ((path, open), (path + ".gz", gzip.open)):
        if os.path.exists(p):
            with opener(p, "rb") as f:
                raw = f.read()
            if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 8:
                return None
            rank = raw[3]
            dims = struct.unpack(">" + "I" * rank, raw[4:4 + 4 * rank])
            data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank)
            if data.size != int(np.prod(dims)):
                return None
            return list(dims), data.reshape(dims)
    return None


_train_set = None


def load_train_set():
    """Fashion-MNIST's training set in memory: float32 [60000, 1, 28, 28] / 255, int64 labels."""
    global _train_set
    if _train_set is not None:
        return _train_set
    dirs = ["data/fashion-mnist", "/usr/share/datasets/fashion-mnist"]
    if os.environ.get("STRATA_FASHION_MNIST"):
        dirs.insert(0, os.environ["STRATA_FASHION_MNIST"])
    for d in dirs:
        im, lb = read_idx(d + "/train-images-idx3-ubyte"), read_idx(d + "/train-labels-idx1-ubyte")
        if im and lb and im[0] == [60000, 28, 28] and lb[0] == [60000]:
            images = torch.from_numpy(im[1].astype(np.float32) / 255).reshape(60000, 1, 28, 28)
            _train_set = (images, torch.from_numpy(lb[1].astype(np.int64)), d)
            return _train_set
    gen = torch.Generator().manual_seed(1)
    _train_set = (torch.rand(60000, 1, 28, 28, generator=gen), torch.randint(0, 10, (60000,), generator=gen),
                  "random stand-in (Fashion-MNIST not found)")
    return _train_set


def w_cnn_epoch(run, t):
    images, labels, source = load_train_set()
    model = reference_cnn()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    gen = torch.Generator().manual_seed(5)
    n, batch = labels.shape[0], 128
    total_batches = (n + batch - 1) // batch
    timed = 20 if run.quick else total_batches

    def warmup():
        loss = 0.0
        for b in range(3):
            loss += float(train_step(model, opt, images[b * batch:(b + 1) * batch], labels[b * batch:(b + 1) * batch]))
        return loss

    def epoch():
        perm = torch.randperm(n, generator=gen)
        acc = torch.zeros(())
        for b in range(timed):
            idx = perm[b * batch:(b + 1) * batch]
            acc += train_step(model, opt, images[idx], labels[idx])
        return acc

    seconds, inner, checksum = run.timer.fixed(1 if run.quick else run.epoch_reps, warmup, epoch)
    if run.quick:
        seconds = [s * total_batches / timed for s in seconds]
    r = make_record("cnn-epoch", t, "s", (seconds, inner, checksum), work=n,
                    note=f"data: {source}" + ("; quick: 20 batches scaled to an epoch" if run.quick else ""))
    r["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    run.add(r)


# ---------------------------------------------------------------- ResNet-20 (issue 14)
# He et al. 2016, section 4.2, written plainly (torch only), the same network as
# Strata's CIFARResNet.resnet20(): projection shortcuts (1x1 conv + BN) where
# the shape changes, Kaiming normal (fan_out, ReLU) convolutions as torchvision.
# FLOPs: convolutions and the Linear only, a multiply-add counts 2.


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN, plus the shortcut, then ReLU. [N, cin, H, W] -> [N, cout, H/stride, W/stride]."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + identity)

    def fold(self):
        """Folds each BatchNorm into the convolution before it (eval only); the BatchNorms become Identity."""
        self.conv1, self.bn1 = fuse_conv_bn_eval(self.conv1, self.bn1), nn.Identity()
        self.conv2, self.bn2 = fuse_conv_bn_eval(self.conv2, self.bn2), nn.Identity()
        if self.downsample is not None:
            self.downsample = nn.Sequential(fuse_conv_bn_eval(self.downsample[0], self.downsample[1]))


class ResNet20(nn.Module):
    """[N, 3, 32, 32] -> logits [N, 10]: conv3x3(3->16)-BN-ReLU, 3 stages x 3 blocks (16, 32, 64), avg pool, Linear."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        stages, cin = [], 16
        for i, width in enumerate((16, 32, 64)):
            blocks = []
            for b in range(3):
                blocks.append(BasicBlock(cin, width, 2 if (b == 0 and i > 0) else 1))
                cin = width
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.fc = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        h = self.layer3(self.layer2(self.layer1(F.relu(self.bn1(self.conv1(x))))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))

    def fold(self):
        """Returns self with every BatchNorm folded into its convolution, in eval mode."""
        self.eval()
        self.conv1 = fuse_conv_bn_eval(self.conv1, self.bn1)
        self.bn1 = nn.Identity()
        for stage in (self.layer1, self.layer2, self.layer3):
            for block in stage:
                block.fold()
        return self


def forward_multiply_adds(model, x):
    """Multiply-adds per Conv2d and Linear of one forward pass, in call order, by forward hooks:
    output elements x weight.numel() / weight.shape[0] (Cin/groups*kh*kw, or in_features)."""
    layers = []

    def hook(m, _inp, out):
        layers.append(out.numel() * m.weight.numel() / m.weight.shape[0])

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return layers


def resnet20_flops_per_image():
    """(forward FLOPs, training-step FLOPs) per 3x32x32 image. A step counts 3 x forward for every
    convolution and Linear (output, dW, dX) less the stem convolution's dX (the images need no gradient)."""
    probe = ResNet20().eval()
    layers = forward_multiply_adds(probe, torch.zeros(1, 3, 32, 32))
    macs = sum(layers)
    return 2.0 * macs, 2.0 * (3 * macs - layers[0])


def w_resnet20_step(run, t):
    batch = 128
    model = ResNet20()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(batch, 3, 32, 32)
    y = torch.randint(0, 10, (batch,))
    _, step_flops = resnet20_flops_per_image()
    run.add(make_record("resnet20-step", t, "images/s", run.timer.measure(lambda: train_step(model, opt, x, y)),
                        work=batch, flops=batch * step_flops,
                        note="zero_grad, forward, cross-entropy, backward, SGD momentum 0.9 wd 5e-4; batch 128"))


def w_resnet20_eval(run, t):
    batch = 256
    model = ResNet20()
    with torch.no_grad():  # two train-mode passes: non-trivial running statistics
        for _ in range(2):
            model(torch.randn(32, 3, 32, 32))
    model.eval()
    x = torch.randn(batch, 3, 32, 32)
    flops = batch * resnet20_flops_per_image()[0]

    def timed(net):
        def body():
            with torch.no_grad():
                return net(x)
        return body

    if run.wants("resnet20-eval"):
        run.add(make_record("resnet20-eval", t, "images/s", run.timer.measure(timed(model)), work=batch,
                            flops=flops, note="eval mode, no grad, batch 256"))
    if run.wants("resnet20-eval:folded"):
        folded = copy.deepcopy(model).fold()
        probe = torch.randn(8, 3, 32, 32)
        with torch.no_grad():
            gap = float((model(probe) - folded(probe)).abs().max())
        run.add(make_record("resnet20-eval:folded", t, "images/s", run.timer.measure(timed(folded)), work=batch,
                            flops=flops, note="BatchNorm folded into the convolutions, eval, no grad, batch 256; "
                                              f"max |folded - unfolded| = {gap:.3g}"))


def w_conv3x3(run, t):
    for channels, size in ((16, 32), (64, 8)):
        rid = f"conv3x3-{channels}"
        if not run.wants(rid):
            continue
        conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        x = torch.randn(128, channels, size, size, requires_grad=True)
        g = torch.randn(128, channels, size, size)

        def body():
            x.grad = None
            conv.zero_grad()
            conv(x).backward(g)
            return x.grad

        run.add(make_record(rid, t, "ms", run.timer.measure(body),
                            flops=3 * conv_flops(128, channels, channels, size, size, 3),
                            note="forward + backward, input gradient included, no bias"))


def w_bn_add_relu(run, t):
    """relu(bn(x) + shortcut), train forward + backward on 128 x 16 x 32 x 32, eager ops."""
    bn = nn.BatchNorm2d(16)
    x = torch.randn(128, 16, 32, 32, requires_grad=True)
    shortcut = torch.randn(128, 16, 32, 32, requires_grad=True)
    g = torch.randn(128, 16, 32, 32)
    size = x.numel() * 4.0

    def body():
        x.grad = None
        shortcut.grad = None
        bn.zero_grad()
        F.relu(bn(x) + shortcut).backward(g)
        return x.grad

    run.add(make_record("bn-add-relu", t, "ms", run.timer.measure(body), nbytes=8 * size,
                        note="BatchNorm2d, shortcut add and ReLU as eager ops, train forward + backward"))


def w_bn_relu_pool(run, t):
    """max_pool2d(relu(bn(x)), 2), train forward + backward on 128 x 32 x 28 x 28, eager ops."""
    bn = nn.BatchNorm2d(32)
    x = torch.randn(128, 32, 28, 28, requires_grad=True)
    g = torch.randn(128, 32, 14, 14)
    size = x.numel() * 4.0

    def body():
        x.grad = None
        bn.zero_grad()
        F.max_pool2d(F.relu(bn(x)), 2).backward(g)
        return x.grad

    run.add(make_record("bn-relu-pool", t, "ms", run.timer.measure(body), nbytes=3 * size,
                        note="BatchNorm2d, ReLU and MaxPool2d(2) as eager ops, train forward + backward"))


# name, ids, runs_first, function
WORKLOADS = [
    ("gemm", ["gemm", "gemm:raw-sgemm", "gemm:ratio"], False, w_gemm),
    ("linear", ["linear"], False, w_linear),
    ("conv1", ["conv1"], False, w_conv1),
    ("conv2", ["conv2:fwd", "conv2:fwd-bwd"], False, w_conv2),
    ("bn2d", ["bn2d:train-fwd", "bn2d:train-fwd-bwd", "bn2d:eval-fwd"], False, w_bn2d),
    ("bn1d", ["bn1d"], False, w_bn1d),
    ("mlp-step", ["mlp-step"], False, w_mlp),
    ("cnn-step", ["cnn-step"], False, w_cnn_step),
    ("cnn-epoch", ["cnn-epoch"], True, w_cnn_epoch),
    ("resnet20-step", ["resnet20-step"], False, w_resnet20_step),
    ("resnet20-eval", ["resnet20-eval", "resnet20-eval:folded"], False, w_resnet20_eval),
    ("conv3x3", ["conv3x3-16", "conv3x3-64"], False, w_conv3x3),
    ("bn-add-relu", ["bn-add-relu"], False, w_bn_add_relu),
    ("bn-relu-pool", ["bn-relu-pool"], False, w_bn_relu_pool),
]


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return [float(v) for v in f.read().split()[:3]]
    except OSError:
        return []


BUSY_CORES = 0.25


def cpu_clock():
    """(wall, machine busy CPU s, steal s, own CPU s), or None without /proc/stat:
    two readings give the cores other processes kept busy in between."""
    try:
        with open("/proc/stat") as f:
            line = next(l for l in f if l.startswith("cpu "))
    except (OSError, StopIteration):
        return None
    v = [float(x) for x in line.split()[1:]]
    if len(v) < 8:
        return None
    hz = os.sysconf("SC_CLK_TCK")
    u = resource.getrusage(resource.RUSAGE_SELF)
    # user nice system idle iowait irq softirq steal (guest time is inside user).
    return (time.perf_counter(), (v[0] + v[1] + v[2] + v[5] + v[6]) / hz, v[7] / hz, u.ru_utime + u.ru_stime)


def others_since(start, end):
    """(cores kept busy by other processes, cores stolen) on average between
    two readings, or None below a second (/proc/stat counts in 10 ms ticks)."""
    wall = end[0] - start[0]
    if wall < 1:
        return None
    return max(0.0, (end[1] - start[1]) - (end[3] - start[3])) / wall, (end[2] - start[2]) / wall


def machine_info(quick):
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = 0.0
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = round(float(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    cores = os.cpu_count() or 1
    load = loadavg()
    return {
        "cpu_model": cpu, "cores": cores, "memory_gib": mem,
        "torch_version": torch.__version__, "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "torch_parallel_info": torch.__config__.parallel_info(),
        "torch_blas": "mkl" if torch.backends.mkl.is_available() else "other",
        "mkldnn": torch.backends.mkldnn.is_available(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "hostname": socket.gethostname(),
        "loadavg_start": load, "loadavg_end": [], "other_cpu": None, "steal_cpu": None,
        "busy": False,
        "timing": "quick (smoke run, not for reporting)" if quick else "full",
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--filter", action="append", default=[], help="record id prefix (repeatable, comma-separated)")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", default="bench-results-pytorch.json")
    ap.add_argument("--epoch-reps", type=int, default=1)
    args = ap.parse_args()
    filters = [f for item in args.filter for f in item.split(",") if f]
    threads = [int(v) for v in args.threads.split(",") if v.strip()]

    machine = machine_info(args.quick)
    print(f"PyTorch {torch.__version__} benchmarks — {machine['date']}")
    print(f"cpu: {machine['cpu_model']}, {machine['cores']} cores, {machine['memory_gib']} GiB; "
          f"load average at start: {' '.join(map(str, machine['loadavg_start']))}")
    clock_start = cpu_clock()
    torch.manual_seed(0)
    run = Run(Timer(QUICK if args.quick else FULL), args.quick, filters, max(1, args.epoch_reps))
    selected = [w for w in WORKLOADS if any(run.wants(i) for i in w[1])]
    if not selected:
        print(f"no PyTorch workload matches --filter {filters} (limits are measured by strata-bench only)")
    ordered = [w for w in selected if w[2]] + [w for w in selected if not w[2]]
    default_threads = torch.get_num_threads()
    for _, _, _, fn in ordered:
        for t in threads:
            torch.set_num_threads(t)
            torch.manual_seed(0)
            fn(run, t)
    torch.set_num_threads(default_threads)
    machine["loadavg_end"] = loadavg()
    print(f"load average at end: {' '.join(map(str, machine['loadavg_end']))}")
    clock_end = cpu_clock()
    shares = others_since(clock_start, clock_end) if clock_start and clock_end else None
    if shares:
        others, steal = shares
        machine["other_cpu"], machine["steal_cpu"] = round(others, 2), round(steal, 2)
        machine["busy"] = others > BUSY_CORES
        print(f"other processes kept {others:.2f} cores busy on average; steal {steal:.2f} cores")
    if machine["busy"]:
        print(f"WARNING: busy machine (other processes above {BUSY_CORES} cores): figures are flagged busy and may be low.")
    with open(args.json, "w") as f:
        json.dump({"machine": machine, "records": run.records, "not_measured": [], "tool": "pytorch"}, f, indent=2)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
