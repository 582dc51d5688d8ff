"""``optiframe demo``: the blog's story, retold with real runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._table import format_table
from .api import minimize
from .gradients import CentralDifference
from .optimizers import GradientDescent
from .result import MultiStartResult
from .starts import MultiStart
from .sweep import sweep

#: The blog's learning-rate experiments on f(x) = x**2 + 1 from x0 = -3: (lr, steps).
LEARNING_RATE_TABLE = (
    (0.01, 500),
    (0.001, 5000),
    (0.999, 5000),
    (1e-9, 100),
    (1e-9, 1000),
    (1e-9, 10000),
    (10.0, 100),
    (10.0, 1000),
)


def func1(x: Any) -> Any:
    """The blog's first function, written for Python floats: x**2 + 1."""
    return x**2 + 1


def func2(p: Any) -> Any:
    """The blog's second function: the sum of squares."""
    return np.sum(np.power(p, 2))


def learning_rate_rows() -> list[tuple[object, ...]]:
    """Rows of the learning-rate table: the blog's exact runs and optiframe's defaults."""
    lrs, steps = (list(column) for column in zip(*LEARNING_RATE_TABLE, strict=True))
    # each table is one call: the runs of one length go side by side, as one stack
    exact = sweep(func1, -3.0, optimizer=GradientDescent, lr=lrs, max_steps=steps,
                  zipped=True, detect_divergence=False,
                  gradient=CentralDifference(step=1e-7, relative=False))
    default = sweep(func1, -3.0, optimizer=GradientDescent, lr=lrs, max_steps=steps,
                    zipped=True)
    return [(e["lr"], e["max_steps"], repr(float(e["x"][0])), d["status"], d["nit"],
             f"{float(d['x'][0]):.6g}") for e, d in zip(exact, default, strict=True)]


def section(title: str, body: str, write: Callable[[str], None]) -> None:
    write(f"\n== {title} ==\n{body}\n")


def run_demo(write: Callable[[str], None] = print, figures: str | None = None) -> None:
    """Print the story; with ``figures`` (a folder) and optiframe-plot, draw it too."""
    write("optiframe demo: minimizing a loss is rolling a ball down a slope.")
    section(
        "1. The learning rate, on f(x) = x**2 + 1 from x0 = -3",
        format_table(
            ["lr", "steps", "x (blog: h = 1e-7, no divergence check)",
             "status (defaults)", "steps run", "x (defaults)"],
            learning_rate_rows(),
        )
        + "\n\nToo small (1e-9) barely moves; 0.01 arrives; 0.999 overshoots back and forth "
        "yet shrinks;\n10.0 overshoots ever further. The blog's loop stops at 2459382288.158 "
        "because h = 1e-7 is\nbelow the spacing of floats near 2.5e9, so its measured slope "
        "is exactly 0; optiframe's\ndefaults (a step relative to |x|, divergence detection) "
        "report `diverged` instead.",
        write,
    )
    rows = []
    for x0 in ([3.0, 3.0], [3.0, 3.0, 3.0]):
        start = np.array(x0)
        r = minimize(func2, start, optimizer=GradientDescent(lr=0.01),
                     gradient=CentralDifference(step=1e-7, relative=False), max_steps=100)
        rows.append((len(x0), str(start.tolist()), "100", np.array2string(r.x, precision=8),
                     f"{r.fun:.3e}", str(start.tolist())))
    section(
        "2. Gradient descent on sum(x**2), lr = 0.01, 100 steps",
        format_table(["n", "x0", "steps", "x", "f(x)", "x0 afterwards"], rows)
        + "\n\nEach coordinate shrinks by (1 - 2 lr) per step: 3 * 0.98**100 = 0.3979. "
        "The caller's x0 is\nnot modified (the blog's loop modifies it in place).",
        write,
    )
    r = minimize(func2, [3.0, 3.0], optimizer=GradientDescent(lr=0.1), max_steps=1000)
    section(
        "3. The same with lr = 0.1 and optiframe's defaults, run to convergence",
        f"status {r.status}, {r.nit} steps, x = {np.array2string(r.x, precision=3)}, "
        f"f = {r.fun:.3g}\n{r.message}",
        write,
    )
    many = minimize("himmelblau", optimizer=GradientDescent(lr=0.01),
                    starts=MultiStart(100, sampler="uniform", bounds=[(-5, 5), (-5, 5)]),
                    max_steps=2000, seed=0)
    assert isinstance(many, MultiStartResult)
    minima_rows = [(np.array2string(m.x, precision=6), f"{m.fun:.1e}", m.count)
                   for m in many.minima]
    section(
        "4. Many valleys, many balls: 100 random starts on Himmelblau's function",
        format_table(["minimum found", "f", "starts that rolled there"], minima_rows)
        + f"\n\n{len(many.starts)} balls, {len(many.minima)} distinct minima; "
        f"{many.statuses().get('converged', 0)} converged. One ball finds one valley; many "
        "balls find them all.",
        write,
    )
    digits_section(write)
    overnight_section(write)
    step_section(write)
    searches = deepest_valley_section(write)
    if figures is not None:
        draw_figures(figures, write, searches)


#: section 7's runs: Rosenbrock by a fixed step, a line search, and the default L-BFGS
STEP_RUNS = (("gd, lr 0.01 (fixed)", GradientDescent(lr=0.01)),
             ("gd, lr 1e-3 (fixed, its best)", GradientDescent(lr=1e-3)),
             ("gd, lr 1 + armijo line search", GradientDescent(lr=1.0, line_search="armijo")),
             ("lbfgs (the default)", None))


def deepest_valley_section(write: Callable[[str], None]) -> dict[str, Any]:
    """The story's end: one ball, many balls, and a strategy, on 10-D Rastrigin, each
    with the same 20,000 evaluations."""
    box = [(-5.12, 5.12)] * 10
    budget = 20_000
    start = np.random.default_rng(0).uniform(-5.12, 5.12, 10)
    one = minimize("rastrigin", start, bounds=box, max_nfev=budget)
    many = minimize("rastrigin", bounds=box, starts=MultiStart(100), max_nfev=budget, seed=0)
    searches: dict[str, Any] = {
        name: minimize("rastrigin", bounds=box, strategy=name, max_nfev=budget, seed=0)
        for name in ("restarts", "tiktak")}
    tiktak = searches["tiktak"]
    assert isinstance(many, MultiStartResult)
    found = next((n for n, b in zip(tiktak.trace.nfev, tiktak.trace.best, strict=True)
                  if b < 1e-8), None)
    rows = [("one ball (L-BFGS from a random point)", f"{one.fun:.4g}", one.nfev, 1),
            ("100 balls at once, the budget shared", f"{many.fun:.4g}", many.nfev,
             len(many.starts)),
            *[(f"strategy={name!r}", f"{r.fun:.4g}", r.nfev, len(r.starts))
              for name, r in searches.items()]]
    section(
        "8. The deepest valley: Rastrigin in 10-D (about 11**10 valleys), 20,000 evaluations",
        format_table(["how", "best f", "evaluations", "local searches"], rows)
        + "\n\nOne ball stops in the nearest valley; balls dropped at once each get a "
        f"sliver of the budget\nand stop in their own valleys ({budget - many.nfev} "
        "evaluations unspent). A strategy spends it in turn:\nTikTak samples the box, "
        "starts from the best points it saw, drawn towards the best\nminimum so far, "
        "and reaches the global minimum (0)"
        + (f" after {found} evaluations." if found else "."),
        write,
    )
    return searches


def step_section(write: Callable[[str], None]) -> None:
    """Rosenbrock by a fixed step, by a line search, and by the default L-BFGS."""
    rows = []
    for label, optimizer in STEP_RUNS:
        r = minimize("rosenbrock", [-1.2, 1.0], optimizer=optimizer, max_steps=50_000)
        rows.append((label, str(r.status), r.nit, r.nfev, np.array2string(r.x, precision=6)))
    section(
        "7. Choosing a step: a fixed learning rate, a line search, L-BFGS",
        format_table(["optimizer", "status", "steps", "evaluations", "x"], rows)
        + "\n\nA line search shortens each step until f decreases enough, so no learning "
        "rate diverges;\nL-BFGS also learns the valley's curvature and needs no learning "
        "rate at all (docs/choosing-a-step.md).",
        write,
    )


def overnight_section(write: Callable[[str], None]) -> None:
    """A run interrupted (Ctrl-C) at step 2500, resumed from its checkpoint."""
    import tempfile

    from .checkpoint import load_checkpoint
    from .optimizers import Adam
    from .runner import Runner

    def ctrl_c_at_2500(info: Any) -> None:
        if info.step == 2500:
            raise KeyboardInterrupt  # what pressing Ctrl-C does to the loop

    with tempfile.TemporaryDirectory() as folder:
        part = Runner("rosenbrock", Adam(lr=0.01), max_steps=6000, callbacks=ctrl_c_at_2500,
                      on_interrupt="return",
                      checkpoint=folder, checkpoint_every=1000).run([-1.2, 1.0])
        saved = load_checkpoint(folder).step
        resumed = Runner("rosenbrock", Adam(lr=0.01), max_steps=6000).resume(folder)
    whole = Runner("rosenbrock", Adam(lr=0.01), max_steps=6000).run([-1.2, 1.0])
    same = (np.array_equal(resumed.x, whole.x)
            and np.array_equal(resumed.history.fun, whole.history.fun))
    section(
        "6. Left overnight: Ctrl-C, then resume",
        f"Adam on Rosenbrock, 6000 steps, checkpoint every 1000: interrupted by Ctrl-C "
        f"({part.status}),\nthe checkpoint holds step {saved}; resumed from it: "
        f"{resumed.status} at x = {np.array2string(resumed.x, precision=6)}.\n"
        f"Same bits as a run never interrupted (x and every f in the history): {same}.",
        write,
    )


def digits_section(write: Callable[[str], None]) -> None:
    """Minibatch SGD on scikit-learn's 8x8 digits, with the test accuracy per epoch."""
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        section("5. Training a digits classifier",
                "skipped: needs scikit-learn (pip install scikit-learn)", write)
        return
    from .data import MLP, SoftmaxRegression

    digits = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(
        digits.data / 16.0, digits.target, test_size=0.2, random_state=0,
        stratify=digits.target)
    softmax = SoftmaxRegression(X_train, y_train)
    mlp = MLP(X_train, y_train, hidden=64)
    runs = [
        ("softmax regression, gd lr 1.0, batch 64", softmax, np.zeros(softmax.n_params),
         GradientDescent(lr=1.0), 64),
        ("MLP (64 tanh units), gd lr 0.5, batch 32", mlp, mlp.init_params(0),
         GradientDescent(lr=0.5), 32),
    ]
    lines = []
    for label, model, start, optimizer, batch in runs:
        def accuracy(info: Any, model: Any = model) -> dict[str, float]:
            return {"test_accuracy": model.accuracy(np.array(info.x), X_test, y_test)}

        r = minimize(model, start, optimizer=optimizer, batch_size=batch, epochs=30, seed=0,
                     epoch_callbacks=accuracy)
        table = r.history.epochs
        shown = [0, 1, 2, 4, 9, 19, 29]
        rows = [(int(table["epoch"][i]), f"{table['train_loss'][i]:.4f}",
                 f"{table['test_accuracy'][i]:.3f}") for i in shown]
        lines.append(f"{label}:\n" + format_table(["epoch", "train loss", "test accuracy"],
                                                   rows))
    section(
        f"5. Minibatch SGD on 8x8 digits ({len(X_train)} training images, "
        f"{len(X_test)} held out)",
        "\n\n".join(lines) + "\n\nEach step sees one random minibatch; each epoch sweeps "
        "the training set once.",
        write,
    )


def draw_figures(folder: str, write: Callable[[str], None],
                 searches: dict[str, Any] | None = None) -> None:
    """The story's pictures, with the plot plugin when it is installed."""
    try:
        import optiframe_plot as plots
    except ImportError:
        write("\n(figures skipped: pip install ./plugins/optiframe-plot)")
        return
    from pathlib import Path

    from .data import SoftmaxRegression
    from .optimizers import Adam, Momentum
    from .testfunctions import Himmelblau, Rosenbrock

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    blog_step = CentralDifference(step=1e-7, relative=False)
    # section 1's runs, as long as its longest row
    rates = sweep(func1, -3.0, optimizer=GradientDescent, gradient=blog_step,
                  max_steps=max(steps for _, steps in LEARNING_RATE_TABLE),
                  detect_divergence=False, lr=[1e-9, 0.001, 0.01, 0.5, 0.999, 10.0])
    rosen = {name: minimize("rosenbrock", [-1.2, 1.0], optimizer=opt, max_steps=600,
                            record_x=True)
             for name, opt in [("gd, lr 1e-3", GradientDescent(lr=1e-3)),
                               ("momentum, lr 1e-3", Momentum(lr=1e-3)),
                               ("adam, lr 0.05", Adam(lr=0.05))]}
    many = minimize("himmelblau", optimizer=GradientDescent(lr=0.01), max_steps=2000, seed=0,
                    starts=MultiStart(100, sampler="uniform", bounds=[(-5, 5), (-5, 5)]))
    steps_ax = None
    for label, optimizer in STEP_RUNS:  # section 7's runs, one curve each
        r = minimize("rosenbrock", [-1.2, 1.0], optimizer=optimizer, max_steps=50_000)
        steps_ax = plots.loss_curve(r, ax=steps_ax, label=f"{label}: {r.status}, {r.nit} steps",
                                    title="Rosenbrock from (-1.2, 1): f per step (section 7)")
    pictures = {
        "learning_rates.png": plots.lr_sweep(
            rates, title="f(x) = x**2 + 1 from x0 = -3, the blog's slope (section 1)"),
        "rosenbrock_paths.png": plots.trajectory(
            rosen, Rosenbrock(), bounds=[(-2.0, 2.0), (-1.0, 3.0)],
            title="Rosenbrock from (-1.2, 1), at most 600 steps each"),
        "himmelblau_minima.png": plots.multistart_minima(many, Himmelblau(),
                                                         bounds=[(-5, 5), (-5, 5)]),
        "choosing_a_step.png": steps_ax,
    }
    if searches:
        pictures["deepest_valley.png"] = plots.global_trace(
            searches, title="Rastrigin in 10-D: the best f against evaluations (section 8)")
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        digits = load_digits()
        X_train, X_test, y_train, y_test = train_test_split(
            digits.data / 16.0, digits.target, test_size=0.2, random_state=0,
            stratify=digits.target)
        model = SoftmaxRegression(X_train, y_train)
        trained = minimize(model, np.zeros(model.n_params), optimizer=GradientDescent(lr=1.0),
                           batch_size=64, epochs=30, seed=0, epoch_callbacks=lambda e: {
                               "test_accuracy": model.accuracy(np.array(e.x), X_test, y_test)})
        pictures["digits_training.png"] = plots.training_curves(
            trained, title="Softmax regression on 8x8 digits, gd lr 1.0, batch 64 (section 5)")
    except ImportError:
        pass
    for name, ax in pictures.items():
        ax.figure.savefig(out / name, dpi=110)
    write(f"\nFigures written to {out}/: " + ", ".join(pictures))
