"""Generates optim.json, the PyTorch reference for OptimizerGroupTests and
ScheduleGroupTests.

Run with a Python that has torch (the repository's .venv):
    python3 Tests/StrataTests/Fixtures/make_optim_fixtures.py

Writes, next to this script, optim.json with:
- "params": two parameters a [2, 3] and b [3] and five steps of fixed
  gradients for both;
- "optimizers": for each case (RMSprop, Adagrad, Adam/AdamW amsgrad, and
  parameter groups of SGD, Adam, RMSprop, Adagrad), the parameters a and b
  (flattened, concatenated) after each step, and the sorted state keys of
  parameter 0 after the last step;
- "schedules": the rate of each of two parameter groups (lr 0.1 and 0.02)
  at construction and after each step, for ExponentialLR, LinearLR,
  SequentialLR, ChainedScheduler and ReduceLROnPlateau (with the metric
  sequence given and best / num_bad_epochs / cooldown_counter after each
  step).
"""
import json
import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(0)
O = torch.optim
S = torch.optim.lr_scheduler


def flat(t):
    return [float(v) for v in t.detach().to(torch.float64).reshape(-1).tolist()]


A0 = torch.tensor([[0.5, -1.0, 2.0], [0.25, -0.75, 1.5]])
B0 = torch.tensor([0.3, -0.2, 0.9])
GRADS = [(torch.randn(2, 3), torch.randn(3)) for _ in range(5)]


def run(make):
    a = A0.clone().requires_grad_(True)
    b = B0.clone().requires_grad_(True)
    opt = make(a, b)
    after = []
    for ga, gb in GRADS:
        a.grad = ga.clone()
        b.grad = gb.clone()
        opt.step()
        after.append(flat(a) + flat(b))
    return {"after": after, "state_keys": sorted(opt.state_dict()["state"][0].keys())}


OPTIMIZERS = {
    "rmsprop": lambda a, b: O.RMSprop([a, b]),
    "rmsprop_momentum": lambda a, b: O.RMSprop([a, b], lr=0.005, alpha=0.9, momentum=0.8),
    "rmsprop_centered": lambda a, b: O.RMSprop([a, b], lr=0.01, eps=1e-6, weight_decay=0.1, centered=True),
    "rmsprop_all": lambda a, b: O.RMSprop([a, b], lr=0.01, alpha=0.95, eps=1e-5, weight_decay=0.05,
                                          momentum=0.5, centered=True),
    "adagrad": lambda a, b: O.Adagrad([a, b]),
    "adagrad_all": lambda a, b: O.Adagrad([a, b], lr=0.1, lr_decay=0.1, weight_decay=0.05,
                                          initial_accumulator_value=0.1, eps=1e-8),
    "adam_amsgrad": lambda a, b: O.Adam([a, b], lr=0.01, weight_decay=0.1, amsgrad=True),
    "adamw_amsgrad": lambda a, b: O.AdamW([a, b], lr=0.02, betas=(0.8, 0.95), weight_decay=0.3, amsgrad=True),
    "sgd_groups": lambda a, b: O.SGD([{"params": [a], "lr": 0.05, "weight_decay": 0.1},
                                      {"params": [b], "momentum": 0.5, "dampening": 0.2}],
                                     lr=0.1, momentum=0.9, weight_decay=0.01),
    "adam_groups": lambda a, b: O.Adam([{"params": [a]},
                                        {"params": [b], "lr": 0.05, "betas": (0.8, 0.9), "weight_decay": 0.2,
                                         "eps": 1e-4}], lr=0.01),
    "adamw_groups": lambda a, b: O.AdamW([{"params": [a], "weight_decay": 0.0}, {"params": [b]}],
                                         lr=0.02, weight_decay=0.5),
    "rmsprop_groups": lambda a, b: O.RMSprop([{"params": [a], "momentum": 0.9}, {"params": [b], "alpha": 0.8}],
                                             lr=0.01),
    "adagrad_groups": lambda a, b: O.Adagrad([{"params": [a], "lr_decay": 0.2}, {"params": [b], "lr": 0.1}]),
}


def rates(make, steps, metrics=None):
    p, q = torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)
    opt = O.SGD([{"params": [p]}, {"params": [q], "lr": 0.02}], lr=0.1, momentum=0.9)
    s = make(opt)
    out = {"lr": [[g["lr"] for g in opt.param_groups]]}
    if metrics is not None:
        out["metrics"] = metrics
        out["state"] = []
    for i in range(steps):
        opt.step()
        if metrics is None:
            s.step()
        else:
            s.step(metrics[i])
            out["state"].append([s.best, s.num_bad_epochs, s.cooldown_counter])
        out["lr"].append([g["lr"] for g in opt.param_groups])
    return out


PLATEAU_MIN = [1.0, 0.9, 0.95, 0.9, 0.91, 0.89, 0.7, 0.71, 0.72, 0.73, 0.74, 0.5, 0.6, 0.6, 0.6, 0.6]
PLATEAU_MAX = [0.1, 0.3, 0.35, 0.38, 0.5, 0.55, 0.58, 0.59, 0.9, 0.95, 0.96, 0.97]

SCHEDULES = {
    "exponential": rates(lambda o: S.ExponentialLR(o, gamma=0.8), 8),
    "linear_warmup": rates(lambda o: S.LinearLR(o, start_factor=0.25, total_iters=4), 8),
    "linear_decay": rates(lambda o: S.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=5), 8),
    "sequential": rates(lambda o: S.SequentialLR(
        o, [S.LinearLR(o, start_factor=0.1, total_iters=3), S.ExponentialLR(o, gamma=0.9)], milestones=[3]), 10),
    "sequential3": rates(lambda o: S.SequentialLR(
        o, [S.LinearLR(o, start_factor=0.5, total_iters=2), S.StepLR(o, step_size=2, gamma=0.5),
            S.CosineAnnealingLR(o, T_max=5, eta_min=0.001)], milestones=[2, 6]), 14),
    "chained": rates(lambda o: S.ChainedScheduler(
        [S.LinearLR(o, start_factor=0.5, total_iters=3), S.ExponentialLR(o, gamma=0.9)]), 8),
    "chained_steps": rates(lambda o: S.ChainedScheduler(
        [S.StepLR(o, step_size=3, gamma=0.5), S.MultiStepLR(o, milestones=[2, 5], gamma=0.1)]), 8),
    "plateau_min": rates(lambda o: S.ReduceLROnPlateau(
        o, mode="min", factor=0.5, patience=2, cooldown=1, min_lr=0.004), len(PLATEAU_MIN), PLATEAU_MIN),
    "plateau_max_abs": rates(lambda o: S.ReduceLROnPlateau(
        o, mode="max", factor=0.2, patience=1, threshold=0.1, threshold_mode="abs"), len(PLATEAU_MAX), PLATEAU_MAX),
}


def main():
    out = {
        "params": {"a": flat(A0), "b": flat(B0), "grads": [[flat(ga), flat(gb)] for ga, gb in GRADS]},
        "optimizers": {k: run(f) for k, f in OPTIMIZERS.items()},
        "schedules": SCHEDULES,
    }
    path = os.path.join(HERE, "optim.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
    print("wrote", path)


if __name__ == "__main__":
    main()
