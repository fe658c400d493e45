"""Reference values for LossTests, computed by PyTorch.

Run from the repository root with a Python that has torch:
    python Tests/StrataTests/Fixtures/make_loss_fixtures.py
It rewrites losses.json beside this file. The tests only read the JSON.

Each case names a torch.nn.functional loss, its inputs and options, the
output (flat, with its shape), the upstream gradient used for backward (one
value for a reduced loss, one per element for reduction='none') and the
resulting gradients of the input and, where the target requires grad, of
the target. Non-finite numbers are written as the strings "nan", "inf",
"-inf" (JSON has no such numbers).
"""
import json, math, os
import torch
import torch.nn.functional as F

torch.manual_seed(11)
cases = []


def flat(t):
    out = []
    for v in t.detach().reshape(-1).tolist():
        v = float(v)
        out.append("nan" if math.isnan(v) else ("inf" if v == math.inf else ("-inf" if v == -math.inf else v)))
    return out


def run(name, loss, x, options, labels=None, target=None, weight=None, pos_weight=None, target_grad=False):
    x = x.clone().requires_grad_()
    kwargs = dict(options)
    case = {"name": name, "loss": loss, "shape": list(x.shape), "input": flat(x)}
    case.update({k: v for k, v in options.items()})
    if weight is not None:
        kwargs["weight"] = weight
        case["weight"], case["weight_shape"] = flat(weight), list(weight.shape)
    if pos_weight is not None:
        kwargs["pos_weight"] = pos_weight
        case["pos_weight"], case["pos_weight_shape"] = flat(pos_weight), list(pos_weight.shape)
    if labels is not None:
        case["labels"] = labels.reshape(-1).tolist()
        y = F.cross_entropy(x, labels, **kwargs) if loss == "cross_entropy" else F.nll_loss(x, labels, **kwargs)
    else:
        target = target.clone().requires_grad_(target_grad)
        case["target"] = flat(target)
        fn = {"bce": F.binary_cross_entropy, "bce_logits": F.binary_cross_entropy_with_logits,
              "l1": F.l1_loss, "mse": F.mse_loss, "smooth_l1": F.smooth_l1_loss, "huber": F.huber_loss,
              "kl_div": F.kl_div, "cross_entropy_prob": F.cross_entropy}[loss]
        y = fn(x, target, **kwargs)
    upstream = torch.randn(y.shape) if y.dim() > 0 else torch.tensor(0.75)
    y.backward(upstream)
    case.update({"out": flat(y), "out_shape": list(y.shape), "upstream": flat(upstream), "grad_input": flat(x.grad)})
    if target is not None and target_grad:
        case["grad_target"] = flat(target.grad)
    cases.append(case)


# Cross-entropy and NLL over class indices.
logits = torch.randn(6, 5) * 3
labels = torch.tensor([0, 4, -100, 2, 2, 1])
plain = torch.tensor([0, 4, 3, 2, 2, 1])
w5 = torch.tensor([0.5, 2.0, 1.0, 0.25, 3.0])
for red in ["mean", "sum", "none"]:
    run(f"ce_plain_{red}", "cross_entropy", logits, {"reduction": red}, labels=plain)
    run(f"ce_ignore_{red}", "cross_entropy", logits, {"reduction": red}, labels=labels)
    run(f"ce_weight_ignore_{red}", "cross_entropy", logits, {"reduction": red}, labels=labels, weight=w5)
    run(f"ce_smooth_{red}", "cross_entropy", logits, {"reduction": red, "label_smoothing": 0.2}, labels=plain)
    run(f"ce_weight_smooth_ignore_{red}", "cross_entropy", logits, {"reduction": red, "label_smoothing": 0.15},
        labels=labels, weight=w5)
    run(f"nll_weight_ignore_{red}", "nll_loss", torch.log_softmax(logits, 1), {"reduction": red}, labels=labels, weight=w5)
run("ce_ignore_valid_class", "cross_entropy", logits, {"ignore_index": 2, "label_smoothing": 0.1}, labels=plain, weight=w5)
run("ce_full_smoothing", "cross_entropy", logits, {"label_smoothing": 1.0}, labels=plain)
big = torch.tensor([[1000.0, 0.0, -1000.0], [-1000.0, 1000.0, 0.0], [0.0, -1000.0, 1000.0], [3.0, 1.0, -2.0]])
w3 = torch.tensor([1.0, 0.3, 2.0])
run("ce_large_logits", "cross_entropy", big, {}, labels=torch.tensor([2, 1, 0, 0]))
run("ce_large_logits_smooth_weight", "cross_entropy", big, {"label_smoothing": 0.1},
    labels=torch.tensor([2, 1, -100, 0]), weight=w3)
run("ce_large_logits_none", "cross_entropy", big, {"reduction": "none", "label_smoothing": 0.05},
    labels=torch.tensor([2, 1, 0, 0]))
# Spatial [N, C, H, W] with ignored pixels (segmentation).
seg = torch.randn(2, 3, 2, 2) * 2
seg_labels = torch.tensor([[[0, 2], [-100, 1]], [[1, 1], [2, -100]]])
for red in ["mean", "sum", "none"]:
    run(f"ce_spatial_{red}", "cross_entropy", seg, {"reduction": red, "label_smoothing": 0.1}, labels=seg_labels, weight=w3)
    run(f"nll_spatial_{red}", "nll_loss", torch.log_softmax(seg, 1), {"reduction": red}, labels=seg_labels, weight=w3)
# Every target ignored.
none_left = torch.tensor([-100, -100, -100, -100, -100, -100])
for red in ["mean", "sum"]:
    run(f"ce_all_ignored_{red}", "cross_entropy", logits, {"reduction": red}, labels=none_left)
    run(f"ce_all_ignored_smooth_weight_{red}", "cross_entropy", logits, {"reduction": red, "label_smoothing": 0.1},
        labels=none_left, weight=w5)
    run(f"nll_all_ignored_{red}", "nll_loss", torch.log_softmax(logits, 1), {"reduction": red}, labels=none_left)

# Cross-entropy against class probabilities (soft labels).
soft = torch.softmax(torch.randn(6, 5), 1)
for red in ["mean", "sum", "none"]:
    run(f"ce_prob_{red}", "cross_entropy_prob", logits, {"reduction": red}, target=soft, target_grad=True)
    run(f"ce_prob_weight_smooth_{red}", "cross_entropy_prob", logits, {"reduction": red, "label_smoothing": 0.2},
        target=soft, weight=w5, target_grad=True)
run("ce_prob_spatial", "cross_entropy_prob", seg, {"label_smoothing": 0.1}, target=torch.softmax(torch.randn(2, 3, 2, 2), 1),
    weight=w3, target_grad=True)
run("ce_prob_large_logits", "cross_entropy_prob", big, {}, target=torch.softmax(torch.randn(4, 3), 1), target_grad=True)

# Binary cross-entropy on probabilities, including exact 0 and 1 (log clamped at -100).
p = torch.rand(4, 3) * 0.9 + 0.05
t = torch.rand(4, 3)
wc = torch.tensor([0.5, 1.5, 2.0])
for red in ["mean", "sum", "none"]:
    run(f"bce_{red}", "bce", p, {"reduction": red}, target=t, target_grad=True)
    run(f"bce_weight_{red}", "bce", p, {"reduction": red}, target=t, weight=wc, target_grad=True)
edge = torch.tensor([0.0, 1.0, 0.0, 1.0, 1e-8, 0.5])
run("bce_clamped", "bce", edge, {"reduction": "sum"}, target=torch.tensor([0.0, 1.0, 1.0, 0.0, 1.0, 0.3]))
# ... and on logits, with weight, pos_weight and logits of +-1000.
z = torch.randn(4, 3) * 2
pw = torch.tensor([3.0, 0.5, 1.0])
for red in ["mean", "sum", "none"]:
    run(f"bcel_{red}", "bce_logits", z, {"reduction": red}, target=t, target_grad=True)
    run(f"bcel_weight_pos_{red}", "bce_logits", z, {"reduction": red}, target=t, weight=wc, pos_weight=pw, target_grad=True)
run("bcel_pos_weight", "bce_logits", z, {}, target=(t > 0.5).float(), pos_weight=pw, target_grad=True)
run("bcel_weight_full_shape", "bce_logits", z, {}, target=t, weight=torch.rand(4, 3), target_grad=True)
zbig = torch.tensor([1000.0, -1000.0, 1000.0, -1000.0, 1000.0, -1000.0, 40.0, -40.0])
tbig = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.3, 0.7, 1.0, 0.0])
run("bcel_large_logits", "bce_logits", zbig, {"reduction": "none"}, target=tbig, target_grad=True)
run("bcel_large_logits_pos", "bce_logits", zbig, {"reduction": "sum"}, target=tbig,
    pos_weight=torch.tensor([2.0]), target_grad=True)

# Regression losses; differences on both sides of beta / delta.
a = torch.randn(3, 4) * 2
b = torch.randn(3, 4)
for red in ["mean", "sum", "none"]:
    run(f"l1_{red}", "l1", a, {"reduction": red}, target=b, target_grad=True)
    run(f"mse_{red}", "mse", a, {"reduction": red}, target=b, target_grad=True)
    run(f"smooth_l1_{red}", "smooth_l1", a, {"reduction": red}, target=b, target_grad=True)
    run(f"huber_{red}", "huber", a, {"reduction": red}, target=b, target_grad=True)
for beta in [0.5, 0.0, 2.5]:
    run(f"smooth_l1_beta_{beta}", "smooth_l1", a, {"beta": beta}, target=b, target_grad=True)
for delta in [0.3, 2.5]:
    run(f"huber_delta_{delta}", "huber", a, {"delta": delta}, target=b, target_grad=True)

# KL divergence: log-probability input, probability or log-probability target.
lq = torch.log_softmax(torch.randn(3, 4), 1)
tp = torch.softmax(torch.randn(3, 4), 1)
for red in ["mean", "sum", "none", "batchmean"]:
    run(f"kl_{red}", "kl_div", lq, {"reduction": red}, target=tp, target_grad=True)
    run(f"kl_log_target_{red}", "kl_div", lq, {"reduction": red, "log_target": True}, target=tp.log(), target_grad=True)
tz = tp.clone()
tz[0, 1] = 0.0
tz[2, 3] = 0.0
run("kl_zero_target", "kl_div", lq, {"reduction": "batchmean"}, target=tz, target_grad=True)

out = {"torch_version": torch.__version__, "cases": cases}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "losses.json")
with open(path, "w") as f:
    json.dump(out, f, indent=0)
print("wrote", path, len(cases), "cases")
