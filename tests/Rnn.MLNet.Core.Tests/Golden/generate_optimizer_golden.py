"""PyTorch golden file for Rnn.MLNet's optimizers, gradient clipping and learning-rate schedules
(checked by tests/Rnn.MLNet.Core.Tests/OptimizerTests.cs).

Rerun from the repository root with the interpreter that has PyTorch (1.13 was used):

    /usr/bin/python3 tests/Rnn.MLNet.Core.Tests/Golden/generate_optimizer_golden.py

It (re)writes Golden/optimizers.json beside this script. The random generator is seeded, so reruns give the same file.

Everything is float64. Parameters are a list of tensors with the shapes in LAYOUT; Rnn.MLNet's ParameterStore holds the
same tensors back to back in one flat buffer, so every vector below is the row-major concatenation of those tensors.

The file holds (floats written with repr, i.e. the shortest text that parses back to the same double):
    layout        [[name, shape], ...] of the parameter tensors (the test builds a ParameterStore with this layout)
    optimizers    list of cases:
                      name     case name
                      kind     "Sgd" | "Adam" | "Adagrad" | "RmsProp" (Rnn.MLNet class)
                      hyper    hyperparameters in Rnn.MLNet's constructor terms (learningRate, momentum, weightDecay,
                               nesterov, beta1, beta2, epsilon, decoupledWeightDecay, alpha)
                      torch    the torch.optim call that produced the case (documentation only)
                      initial  parameter vector before the first step
                      lrs      learning rate used for each step (param_group['lr'] set before the step; the test sets
                               Optimizer.LearningRate the same way)
                      grads    one gradient vector per step (fed to torch as p.grad)
                      params   parameter vector after each step
    clipping      list of torch.nn.utils.clip_grad_norm_(params, max_norm) cases (norm_type 2, error_if_nonfinite
                  False): name, grad (before), max_norm, norm (returned total norm), clipped (grad after)
    schedules     list of cases: name, kind ("StepLR" | "ReduceLROnPlateau"), hyper, initial_lr, losses (the metric
                  passed after each epoch; null = NaN), rates (lr after scheduler.step() following epoch 1, 2, ...,
                  i.e. the rate for the next epoch). The loop is the usual one:
                      for epoch in 1..N: train at lr; scheduler.step()  (ReduceLROnPlateau: scheduler.step(loss))
"""

import json
import math
import os

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "optimizers.json")

LAYOUT = [("a", [3, 4]), ("b", [5]), ("c", [2, 3])]
N = sum(int(np.prod(s)) for _, s in LAYOUT)
STEPS = 5

rng = np.random.default_rng(20240611)


def split(flat):
    """Flat float64 vector -> list of leaf tensors with LAYOUT's shapes."""
    out, off = [], 0
    for _, shape in LAYOUT:
        n = int(np.prod(shape))
        out.append(torch.tensor(flat[off:off + n], dtype=torch.float64).reshape(shape))
        off += n
    return out


def flatten(tensors):
    return torch.cat([t.detach().reshape(-1) for t in tensors]).tolist()


def initial_params():
    # Magnitudes in [0.3, 1.5] with random signs: no parameter comes near 0 within 5 small steps, so a relative
    # comparison is meaningful for every element.
    return (rng.uniform(0.3, 1.5, N) * rng.choice([-1.0, 1.0], N)).tolist()


def gradient_sequence():
    grads = []
    for step in range(STEPS):
        g = rng.standard_normal(N) * [0.5, 2.0, 0.05, 1.0, 3.0][step]
        g[(step * 7) % N] = 0.0                      # an exact zero gradient somewhere each step
        if step == 2:
            g[1] = -g[1] * 40.0                      # one large, sign-flipped value
        grads.append(g.tolist())
    return grads


def run_optimizer(name, kind, hyper, torch_ctor, torch_desc, lrs=None):
    initial = initial_params()
    grads = gradient_sequence()
    if lrs is None:
        lrs = [hyper["learningRate"]] * STEPS
    params = [p.requires_grad_(True) for p in split(initial)]
    opt = torch_ctor(params)
    history = []
    for step in range(STEPS):
        for group in opt.param_groups:
            group["lr"] = lrs[step]
        for p, g in zip(params, split(grads[step])):
            p.grad = g
        opt.step()
        flat = flatten(params)
        assert min(abs(v) for v in flat) > 1e-3, f"{name}: a parameter came near 0; pick another seed"
        history.append(flat)
    return {
        "name": name, "kind": kind, "hyper": hyper, "torch": torch_desc,
        "initial": initial, "lrs": lrs, "grads": grads, "params": history,
    }


def optimizer_cases():
    O = torch.optim
    cases = []
    cases.append(run_optimizer(
        "sgd", "Sgd", dict(learningRate=0.05, momentum=0.0, weightDecay=0.0, nesterov=False),
        lambda p: O.SGD(p, lr=0.05, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, foreach=False),
        "SGD(lr=0.05)"))
    cases.append(run_optimizer(
        "sgd_weight_decay", "Sgd", dict(learningRate=0.05, momentum=0.0, weightDecay=0.01, nesterov=False),
        lambda p: O.SGD(p, lr=0.05, momentum=0.0, dampening=0.0, weight_decay=0.01, nesterov=False, foreach=False),
        "SGD(lr=0.05, weight_decay=0.01)"))
    cases.append(run_optimizer(
        "sgd_momentum", "Sgd", dict(learningRate=0.02, momentum=0.9, weightDecay=0.0, nesterov=False),
        lambda p: O.SGD(p, lr=0.02, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False, foreach=False),
        "SGD(lr=0.02, momentum=0.9)"))
    cases.append(run_optimizer(
        "sgd_nesterov_weight_decay", "Sgd", dict(learningRate=0.02, momentum=0.9, weightDecay=0.01, nesterov=True),
        lambda p: O.SGD(p, lr=0.02, momentum=0.9, dampening=0.0, weight_decay=0.01, nesterov=True, foreach=False),
        "SGD(lr=0.02, momentum=0.9, weight_decay=0.01, nesterov=True)"))
    cases.append(run_optimizer(
        "sgd_momentum_lr_changes", "Sgd", dict(learningRate=0.02, momentum=0.9, weightDecay=0.001, nesterov=False),
        lambda p: O.SGD(p, lr=0.02, momentum=0.9, dampening=0.0, weight_decay=0.001, nesterov=False, foreach=False),
        "SGD(lr=0.02, momentum=0.9, weight_decay=0.001), lr changed between steps",
        lrs=[0.02, 0.02, 0.01, 0.005, 0.005]))
    cases.append(run_optimizer(
        "adam", "Adam", dict(learningRate=0.01, beta1=0.9, beta2=0.999, epsilon=1e-8, weightDecay=0.0,
                             decoupledWeightDecay=False),
        lambda p: O.Adam(p, lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, foreach=False),
        "Adam(lr=0.01, betas=(0.9, 0.999), eps=1e-8)"))
    cases.append(run_optimizer(
        "adam_custom_betas", "Adam", dict(learningRate=0.03, beta1=0.8, beta2=0.95, epsilon=1e-6, weightDecay=0.0,
                                          decoupledWeightDecay=False),
        lambda p: O.Adam(p, lr=0.03, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.0, amsgrad=False, foreach=False),
        "Adam(lr=0.03, betas=(0.8, 0.95), eps=1e-6)"))
    cases.append(run_optimizer(
        "adam_l2", "Adam", dict(learningRate=0.01, beta1=0.9, beta2=0.999, epsilon=1e-8, weightDecay=0.1,
                                decoupledWeightDecay=False),
        lambda p: O.Adam(p, lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1, amsgrad=False, foreach=False),
        "Adam(lr=0.01, weight_decay=0.1)  (L2 added to the gradient)"))
    cases.append(run_optimizer(
        "adamw", "Adam", dict(learningRate=0.01, beta1=0.9, beta2=0.999, epsilon=1e-8, weightDecay=0.1,
                              decoupledWeightDecay=True),
        lambda p: O.AdamW(p, lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1, amsgrad=False, foreach=False),
        "AdamW(lr=0.01, weight_decay=0.1)"))
    cases.append(run_optimizer(
        "adamw_lr_changes", "Adam", dict(learningRate=0.01, beta1=0.9, beta2=0.999, epsilon=1e-8, weightDecay=0.01,
                                         decoupledWeightDecay=True),
        lambda p: O.AdamW(p, lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, amsgrad=False, foreach=False),
        "AdamW(lr=0.01, weight_decay=0.01), lr changed between steps",
        lrs=[0.01, 0.01, 0.004, 0.004, 0.001]))
    cases.append(run_optimizer(
        "adagrad", "Adagrad", dict(learningRate=0.05, epsilon=1e-10),
        lambda p: O.Adagrad(p, lr=0.05, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10,
                            foreach=False),
        "Adagrad(lr=0.05, eps=1e-10)"))
    cases.append(run_optimizer(
        "rmsprop", "RmsProp", dict(learningRate=0.01, alpha=0.99, epsilon=1e-8),
        lambda p: O.RMSprop(p, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                            foreach=False),
        "RMSprop(lr=0.01, alpha=0.99, eps=1e-8)"))
    cases.append(run_optimizer(
        "rmsprop_alpha_0_9", "RmsProp", dict(learningRate=0.005, alpha=0.9, epsilon=1e-6),
        lambda p: O.RMSprop(p, lr=0.005, alpha=0.9, eps=1e-6, weight_decay=0.0, momentum=0.0, centered=False,
                            foreach=False),
        "RMSprop(lr=0.005, alpha=0.9, eps=1e-6)"))
    return cases


def clip_case(name, grad, max_norm):
    params = [p.requires_grad_(True) for p in split([0.0] * N)]
    for p, g in zip(params, split(grad)):
        p.grad = g
    norm = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=2.0, error_if_nonfinite=False)
    return {"name": name, "grad": grad, "max_norm": max_norm, "norm": float(norm),
            "clipped": torch.cat([p.grad.reshape(-1) for p in params]).tolist()}


def clipping_cases():
    g = (rng.standard_normal(N) * 2.0).tolist()
    norm = math.sqrt(sum(v * v for v in g))
    exact = [0.0] * N
    exact[0], exact[N - 1] = 3.0, 4.0                # norm exactly 5
    return [
        clip_case("clipped", g, 1.0),                 # well above max_norm: scaled by max_norm / (norm + 1e-6)
        clip_case("clipped_barely", g, norm * 0.999),
        clip_case("below_max", g, norm * 2.0),        # well below: unchanged (coefficient clamped to 1)
        clip_case("zero_grad", [0.0] * N, 1.0),
        # Edge: norm == max_norm. PyTorch multiplies by max_norm / (norm + 1e-6) < 1 whenever norm > max_norm - 1e-6.
        clip_case("norm_equals_max", exact, 5.0),
    ]


def step_lr_case(name, step_size, gamma, initial_lr, epochs):
    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=initial_lr)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=step_size, gamma=gamma)
    rates = []
    for _ in range(epochs):
        opt.step()
        sched.step()
        rates.append(opt.param_groups[0]["lr"])
    return {"name": name, "kind": "StepLR", "hyper": {"stepSize": step_size, "gamma": gamma},
            "initial_lr": initial_lr, "losses": [1.0] * epochs, "rates": rates}


def plateau_case(name, factor, patience, threshold, min_lr, initial_lr, losses):
    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=initial_lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=factor, patience=patience,
                                                       threshold=threshold, threshold_mode="rel", cooldown=0,
                                                       min_lr=min_lr, eps=1e-8)
    rates = []
    for loss in losses:
        opt.step()
        sched.step(float("nan") if loss is None else loss)
        rates.append(opt.param_groups[0]["lr"])
    return {"name": name, "kind": "ReduceLROnPlateau",
            "hyper": {"factor": factor, "patience": patience, "threshold": threshold, "minRate": min_lr},
            "initial_lr": initial_lr, "losses": losses, "rates": rates}


def schedule_cases():
    script = [2.0, 1.5, 1.4, 1.45, 1.41, 1.3999, 1.2, 1.2, 1.3, 1.19995, 1.25, 1.1, None, 1.15, 1.05, 1.06, 1.07, 1.08]
    return [
        step_lr_case("step_lr_1", 1, 0.5, 0.1, 6),
        step_lr_case("step_lr_2", 2, 0.5, 0.1, 9),
        step_lr_case("step_lr_3", 3, 0.1, 1.0, 10),
        plateau_case("plateau_p0", 0.25, 0, 1e-4, 0.0, 1.0, script),
        plateau_case("plateau_p2", 0.5, 2, 1e-4, 0.0, 0.1, script),
        plateau_case("plateau_p1_thr_min", 0.1, 1, 0.01, 1e-3, 0.5, script),
        # Edge: PyTorch skips a reduction that would change the rate by no more than eps = 1e-8.
        plateau_case("plateau_tiny_lr", 0.5, 0, 1e-4, 0.0, 1e-7, [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]),
    ]


def main():
    torch.set_default_dtype(torch.float64)
    doc = {
        "torch_version": torch.__version__,
        "layout": [[n, s] for n, s in LAYOUT],
        "optimizers": optimizer_cases(),
        "clipping": clipping_cases(),
        "schedules": schedule_cases(),
    }
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1, allow_nan=False)
        f.write("\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
