"""Write tests/data/torch_reference.json: 50-step trajectories of torch.optim in float64.

Needs torch (``pip install torch==2.13.0``); the tests only read the JSON it writes.
Run from the repository root: ``python tests/data/make_torch_reference.py``.

Each case gives the optimizer's optiframe name and hyperparameters, the problem, x0 and
the 51 iterates torch produced (x0 first). Gradients come from autograd.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

A = [[3.0, 0.5, 0.0], [0.5, 2.0, 0.3], [0.0, 0.3, 1.0]]
B = [1.0, -2.0, 0.5]
PROBLEMS = {
    "quadratic": ([1.5, -0.5, 2.0], lambda x: 0.5 * x @ torch.tensor(A, dtype=torch.float64)
                  @ x - torch.tensor(B, dtype=torch.float64) @ x),
    "rosenbrock": ([-1.2, 1.0], lambda x: torch.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2
                                                     + (1.0 - x[:-1]) ** 2)),
}

# (optiframe name, {problem: lr}, extra hyperparameters)
CASES = [
    ("gd", {"quadratic": 0.05, "rosenbrock": 1e-3}, {}),
    ("momentum", {"quadratic": 0.05, "rosenbrock": 1e-3}, {"momentum": 0.9}),
    ("momentum", {"quadratic": 0.05, "rosenbrock": 1e-3},
     {"momentum": 0.8, "dampening": 0.5, "weight_decay": 0.01}),
    ("nesterov", {"quadratic": 0.05, "rosenbrock": 1e-3}, {"momentum": 0.9}),
    ("nesterov", {"quadratic": 0.05, "rosenbrock": 1e-3}, {"momentum": 0.7, "weight_decay": 0.01}),
    ("adagrad", {"quadratic": 0.1, "rosenbrock": 0.05}, {}),
    ("adagrad", {"quadratic": 0.1, "rosenbrock": 0.05},
     {"lr_decay": 0.01, "weight_decay": 0.01, "initial_accumulator_value": 0.1, "eps": 1e-8}),
    ("rmsprop", {"quadratic": 0.01, "rosenbrock": 1e-3}, {}),
    ("rmsprop", {"quadratic": 0.01, "rosenbrock": 1e-3},
     {"alpha": 0.9, "momentum": 0.5, "centered": True, "weight_decay": 0.01}),
    ("adam", {"quadratic": 0.05, "rosenbrock": 0.01}, {}),
    ("adam", {"quadratic": 0.05, "rosenbrock": 0.01},
     {"beta1": 0.8, "beta2": 0.99, "amsgrad": True, "weight_decay": 0.01}),
    ("adamw", {"quadratic": 0.05, "rosenbrock": 0.01}, {}),
    ("adamw", {"quadratic": 0.05, "rosenbrock": 0.01},
     {"amsgrad": True, "weight_decay": 0.1, "eps": 1e-6}),
]


def torch_optimizer(name, params, lr, hyper):
    h = dict(hyper)
    if "beta1" in h or "beta2" in h:
        h["betas"] = (h.pop("beta1", 0.9), h.pop("beta2", 0.999))
    if name == "gd":
        return torch.optim.SGD(params, lr=lr)
    if name == "momentum":
        return torch.optim.SGD(params, lr=lr, **h)
    if name == "nesterov":
        return torch.optim.SGD(params, lr=lr, nesterov=True, **h)
    cls = {"adagrad": torch.optim.Adagrad, "rmsprop": torch.optim.RMSprop,
           "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[name]
    return cls(params, lr=lr, **h)


def trajectory(name, problem, lr, hyper, steps=50):
    x0, f = PROBLEMS[problem]
    x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    opt = torch_optimizer(name, [x], lr, hyper)
    points = [x.detach().tolist()]
    for _ in range(steps):
        opt.zero_grad()
        f(x).backward()
        opt.step()
        points.append(x.detach().tolist())
    return points


#: A loss sequence that falls, then stalls, then falls again: plateau schedules react.
LOSSES = [10.0 / (1 + k) if k < 20 else (0.5 if k < 45 else 0.5 - 0.01 * (k - 44))
          for k in range(80)]

# (optiframe schedule name, its parameters, torch scheduler factory)
SCHEDULES = [
    ("step", {"step_size": 7, "gamma": 0.5},
     lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=7, gamma=0.5)),
    ("exponential", {"gamma": 0.95},
     lambda opt: torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.95)),
    ("cosine", {"total_steps": 80, "min_value": 0.001},
     lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=80, eta_min=0.001)),
    ("plateau", {"factor": 0.5, "patience": 3, "cooldown": 2},
     lambda opt: torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=3,
                                                            cooldown=2)),
    ("plateau", {"factor": 0.2, "patience": 0, "threshold": 0.05, "threshold_mode": "abs",
                 "min_value": 0.005},
     lambda opt: torch.optim.lr_scheduler.ReduceLROnPlateau(
         opt, factor=0.2, patience=0, threshold=0.05, threshold_mode="abs", min_lr=0.005)),
]


def schedule_values(make, base=0.1):
    """The learning rate torch uses at each step, the loss of that step handed first."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base)
    sched = make(opt)
    plateau = isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau)
    values = []
    for loss in LOSSES:
        if plateau:
            sched.step(loss)  # a plateau schedule reads the loss before the step
        values.append(opt.param_groups[0]["lr"])
        opt.step()
        if not plateau:
            sched.step()
    return values


def main():
    cases = []
    for name, lrs, hyper in CASES:
        for problem, lr in lrs.items():
            cases.append({"optimizer": name, "params": {"lr": lr, **hyper}, "problem": problem,
                          "x0": PROBLEMS[problem][0],
                          "trajectory": trajectory(name, problem, lr, hyper)})
    schedules = [{"schedule": name, "params": params, "base": 0.1,
                  "values": schedule_values(make)} for name, params, make in SCHEDULES]
    out = {"torch_version": torch.__version__, "dtype": "float64", "steps": 50,
           "quadratic": {"A": A, "b": B}, "cases": cases, "losses": LOSSES,
           "schedules": schedules}
    path = Path(__file__).with_name("torch_reference.json")
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {len(cases)} optimizer cases and {len(schedules)} schedules to {path}")


if __name__ == "__main__":
    main()
