"""optiframe-plot: every figure renders to PNG with the Agg backend."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from optiframe_plot import (
    loss_curve,
    lr_sweep,
    multistart_minima,
    training_curves,
    trajectory,
)

import optiframe as of

PNG = b"\x89PNG\r\n\x1a\n"


def saved(ax, path):
    ax.figure.savefig(path, dpi=60)
    data = path.read_bytes()
    assert data.startswith(PNG) and len(data) > 5_000
    return data


def test_the_plots_are_registered_through_the_entry_point():
    entries = {e.name: e for e in of.get_registry().entries("plot")}
    assert set(entries) == {"loss", "trajectory", "minima", "lr-sweep", "training",
                            "global"}
    assert {e.plugin for e in entries.values()} == {"plot"}


def test_loss_curve_uses_a_log_scale_for_positive_losses(tmp_path):
    r = of.minimize("rosenbrock", [-1.2, 1.0], optimizer=of.Adam(lr=0.05), max_steps=300)
    ax = loss_curve(r)
    assert isinstance(ax, Axes) and ax.get_yscale() == "log"
    assert len(ax.get_lines()) == 1
    saved(ax, tmp_path / "loss.png")


def test_a_given_axes_is_drawn_on_and_returned(tmp_path):
    fig = Figure()
    ax = fig.add_subplot()
    r = of.minimize("styblinski-tang", [0.5, 0.5], max_steps=50)  # negative f: linear scale
    assert loss_curve(r, ax=ax) is ax and ax.get_yscale() == "linear"


def test_trajectories_over_contours(tmp_path):
    runs = {name: of.minimize("rosenbrock", [-1.2, 1.0], optimizer=opt, max_steps=400,
                              record_x=True)
            for name, opt in [("gd", of.GradientDescent(lr=1e-3)), ("adam", of.Adam(lr=0.05))]}
    ax = trajectory(runs, of.Rosenbrock(), bounds=[(-2, 2), (-1, 3)])
    assert [line.get_label() for line in ax.get_lines()][:1] == ["gd: max_steps, 400 steps"]
    saved(ax, tmp_path / "trajectory.png")
    with pytest.raises(of.InvalidArgumentError, match="record_x=True"):
        trajectory(of.minimize("sphere", [1.0, 1.0], max_steps=3), of.Sphere())


def test_the_2d_plots_refuse_what_they_cannot_draw():
    # a 3-D run's first two coordinates over the 2-D function's contours would show
    # another function; one start has no starts to colour
    three = of.minimize("rastrigin", [1.0, 2.0, 0.5], optimizer=of.GradientDescent(lr=1e-3),
                        max_steps=5, record_x=True)
    with pytest.raises(of.InvalidArgumentError, match=r"trajectory draws 2-D runs.* 'run' "
                       r"has 3 coordinates \(loss_curve draws any run\)"):
        trajectory(three, "rastrigin")
    box = [(-5.0, 5.0)] * 3
    many = of.minimize("rastrigin", starts=of.MultiStart(4, sampler="uniform", bounds=box),
                       seed=0, optimizer=of.GradientDescent(lr=1e-3), max_steps=5)
    with pytest.raises(of.InvalidArgumentError, match="the run has 3 coordinates"):
        multistart_minima(many)
    one = of.minimize("himmelblau", [1.0, 1.0], max_steps=5)
    with pytest.raises(of.InvalidArgumentError, match="needs a multi-start result"):
        multistart_minima(one)


def test_multistart_starts_coloured_by_their_minimum(tmp_path):
    r = of.minimize("himmelblau", optimizer=of.GradientDescent(lr=0.01), max_steps=2000,
                    starts=of.MultiStart(60, bounds=[(-5, 5), (-5, 5)]), seed=0)
    ax = multistart_minima(r, of.Himmelblau(), bounds=[(-5, 5), (-5, 5)])
    colours = {tuple(c.get_facecolors()[0].round(3)) for c in ax.collections[-4:]}
    assert len(colours) == 4  # the starts of each minimum in a colour of their own
    assert "4 distinct minima" in ax.get_title()
    saved(ax, tmp_path / "minima.png")


def test_learning_rate_sweep(tmp_path):
    runs = {lr: of.minimize(lambda x: float(x @ x + 1), [-3.0],
                            optimizer=of.GradientDescent(lr=lr), max_steps=200)
            for lr in (1e-3, 0.01, 0.1, 0.9)}
    ax = lr_sweep(runs)
    assert len(ax.get_lines()) == 4 and ax.get_yscale() == "log"
    saved(ax, tmp_path / "sweep.png")


def test_training_curves_with_metrics(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] > 0).astype(int)
    model = of.SoftmaxRegression(X, y)
    r = of.minimize(model, np.zeros(model.dim), batch_size=20, epochs=4, seed=0,
                    epoch_callbacks=lambda e: {"accuracy": model.accuracy(np.array(e.x), X, y)})
    ax = training_curves(r)
    assert len(ax.figure.axes) == 2  # the metric's own axis
    saved(ax, tmp_path / "training.png")
    with pytest.raises(of.InvalidArgumentError, match="needs a minibatch run"):
        training_curves(of.minimize("sphere", [1.0], max_steps=2))


def test_the_demo_writes_its_figures(tmp_path, capsys):
    from optiframe.cli import main

    assert main(["demo", "--figures", str(tmp_path / "figures")]) == 0
    names = sorted(p.name for p in (tmp_path / "figures").iterdir())
    expected = ["choosing_a_step.png", "himmelblau_minima.png", "learning_rates.png",
                "rosenbrock_paths.png"]
    assert set(expected) <= set(names)
    for name in names:
        assert (tmp_path / "figures" / name).read_bytes().startswith(PNG)
    assert "Figures written to" in capsys.readouterr().out


def test_a_multistart_loss_curve_is_the_best_start_a_median_and_a_band(tmp_path):
    r = of.minimize("himmelblau", optimizer=of.GradientDescent(lr=0.01), max_steps=300,
                    starts=of.MultiStart(30, bounds=[(-5, 5)] * 2), seed=0)
    ax = loss_curve(r)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(labels) == 3 and labels[0].startswith("10-90 %") and "best: start" in labels[2]
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "step"
    ax.figure.savefig(tmp_path / "loss.png")
    assert (tmp_path / "loss.png").stat().st_size > 10_000


def test_the_command_lines_minima_plot_has_contours_and_labels(tmp_path, monkeypatch):
    from optiframe.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "ms.toml").write_text(
        '[objective]\nname = "himmelblau"\n[optimizer]\nname = "gd"\nlr = 0.01\n[start]\n'
        'n_starts = 12\nbounds = [[-5.0, 5.0], [-5.0, 5.0]]\nseed = 0\n[stop]\nmax_steps = 300\n'
        '[output]\nfolder = "out"\n')
    assert main(["run", "ms.toml"]) == 0
    assert (tmp_path / "out" / "minima.png").exists() and (tmp_path / "out" / "loss.png").exists()
    import optiframe_plot as plots

    r = of.minimize("himmelblau", optimizer=of.GradientDescent(lr=0.01), max_steps=300,
                    starts=of.MultiStart(12, bounds=[(-5, 5)] * 2), seed=0)
    ax = plots.multistart_minima(r, of.Himmelblau())
    assert ax.get_xlabel() == "x[0]" and ax.get_ylabel() == "x[1]"
    assert ax.collections  # the filled contours and the starts


def test_trajectory_takes_a_list_of_results_and_an_objectives_name(tmp_path):
    runs = [of.minimize("rosenbrock", [-1.2, 1.0], optimizer=opt, max_steps=200, record_x=True)
            for opt in (of.LBFGS(), of.Adam(lr=0.05))]
    ax = trajectory(runs, "rosenbrock", bounds=[(-2, 2), (-1, 3)])
    labels = [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert labels[:2] == ["run 0: converged, 37 steps", "run 1: max_steps, 200 steps"]
    saved(ax, tmp_path / "paths.png")


def test_the_demos_figures_say_what_a_reader_cannot_see(tmp_path):
    blog = of.CentralDifference(step=1e-7, relative=False)
    runs = {lr: of.minimize(lambda x: x**2 + 1, -3.0, optimizer=of.GradientDescent(lr=lr),
                            gradient=blog, max_steps=300, detect_divergence=False)
            for lr in (0.001, 0.999, 10.0)}
    labels = [t.get_text() for t in lr_sweep(runs).get_legend().get_texts()]
    assert labels[1] == "lr = 0.999 (max_steps, f = 3.71, on top of lr = 0.001)"  # they coincide
    assert labels[2].startswith("lr = 10")  # the blog's headline is drawn
    paths = {name: of.minimize("rosenbrock", [-1.2, 1.0], optimizer=opt, max_steps=100,
                               record_x=True)
             for name, opt in [("gd", of.GradientDescent(lr=1e-3)), ("adam", of.Adam(lr=0.05))]}
    ax = trajectory(paths, "rosenbrock", bounds=[(-2, 2), (-1, 3)])
    lines = ax.get_lines()
    stars = [ln for ln in lines if ln.get_marker() == "*"]
    runs_drawn = [ln for ln in lines if ln.get_label().split(":")[0] in ("gd", "adam")]
    assert [s.get_color() for s in stars] == [r.get_color() for r in runs_drawn]


def test_lr_sweep_draws_an_of_sweep_table(tmp_path):
    table = of.sweep(lambda x: x**2 + 1, -3.0, optimizer=of.GradientDescent,
                     lr=[1e-9, 0.01, 0.999, 10.0], max_steps=[100])
    ax = lr_sweep(table)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0].startswith("lr = 1e-09, max_steps = 100 (max_steps")
    assert "diverged" in labels[3] and len(ax.get_lines()) == 4
    saved(ax, tmp_path / "sweep.png")
    one = of.minimize("sphere", [1.0, 2.0])
    with pytest.raises(of.InvalidArgumentError, match="got a Result: for one run, draw "
                       r"loss_curve\(result\)"):
        lr_sweep(one)  # (it raised "'Result' object has no attribute 'items'")


# -- readable figures (issue 23): each drawn, saved and its content checked ---------------


def test_an_lr_sweep_labels_a_growing_curve_and_keeps_it_from_squashing_the_others(tmp_path):
    blog = of.CentralDifference(step=1e-7, relative=False)
    rates = of.sweep(lambda x: x**2 + 1, -3.0, optimizer=of.GradientDescent, gradient=blog,
                     max_steps=5000, detect_divergence=False, lr=[1e-5, 0.5, 10.0])
    ax = lr_sweep(rates, title="x**2 + 1")
    saved(ax, tmp_path / "sweep.png")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "f grew to" in labels[2] and "off the top" in labels[2]
    assert "converged" not in labels[2]  # the blog's slope reads 0 up there; f still grew
    assert ax.get_ylim()[1] <= 10 * 10.0  # 10x the highest starting f, not 6e18
    last = max(len(r.history.fun) - 1 for r in rates.results)
    assert ax.get_xlim() == (0.0, 5000.0) == (0.0, last) and ax.get_xscale() == "symlog"
    assert ax.get_title() == "x**2 + 1"


def test_trajectories_stay_visible_and_mark_the_minimum_and_the_steps(tmp_path):
    runs = {name: of.minimize("rosenbrock", [-1.2, 1.0], optimizer=opt, max_steps=200,
                              record_x=True)
            for name, opt in [("gd", of.GradientDescent(lr=1e-3)), ("adam", of.Adam(lr=0.05))]}
    ax = trajectory(runs, "rosenbrock", bounds=[(-2, 2), (-1, 3)])
    saved(ax, tmp_path / "paths.png")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["gd: max_steps, 200 steps", "adam: max_steps, 200 steps",
                      "minimum (1, 1)"]
    widths = [line.get_linewidth() for line in ax.get_lines() if line.get_label() in
              ("gd: max_steps, 200 steps", "adam: max_steps, 200 steps")]
    assert widths[0] > widths[1]  # the first path is wider, so it shows around the second


def test_the_minima_plot_is_readable_with_a_hundred_minima(tmp_path):
    import warnings

    r = of.minimize({"name": "rastrigin", "dim": 2}, starts=of.MultiStart(300), seed=0,
                    bounds=[(-5.12, 5.12)] * 2)
    assert len(r.minima) >= 100
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "constrained_layout not applied" was one
        ax = multistart_minima(r, of.Rastrigin(dim=2), bounds=[(-5.12, 5.12)] * 2)
        saved(ax, tmp_path / "many.png")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(legend) <= 4  # a summary, not a row per minimum
    assert len(ax.figure.axes) == 2  # the plot and its colour bar
    notes = [t.get_text() for t in ax.texts]
    assert len(notes) == 3 and all("-0 " not in n and "-0.000" not in n for n in notes)
    assert f"{len(r.minima)} distinct minima" in ax.get_title()


def test_the_minima_plot_of_a_few_minima_has_a_row_each_in_plain_words(tmp_path):
    r = of.minimize("himmelblau", starts=of.MultiStart(12, bounds=[(-5, 5)] * 2), seed=0)
    ax = multistart_minima(r)
    saved(ax, tmp_path / "few.png")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(legend) == len(r.minima) <= 4
    assert all("-0.000" not in t and "1 starts" not in t for t in legend)


def test_training_curves_put_each_metric_on_the_axis_of_its_kind(tmp_path):
    X, y = np.random.default_rng(0).normal(size=(60, 3)), np.arange(60) % 2
    model = of.SoftmaxRegression(X, y)
    r = of.minimize(model, np.zeros(model.dim), batch_size=20, epochs=3, seed=0,
                    epoch_callbacks=lambda e: {"val_loss": 0.5, "accuracy": 0.9})
    ax = training_curves(r, title="softmax, 3 epochs")
    saved(ax, tmp_path / "train.png")
    assert [line.get_label() for line in ax.get_lines()] == ["training loss", "val loss"]
    twin = next(a for a in ax.figure.axes if a is not ax)
    assert [line.get_label() for line in twin.get_lines()] == ["accuracy"]


def test_a_multi_start_loss_curves_median_is_of_every_start(tmp_path):
    r = of.minimize("himmelblau", starts=of.MultiStart(9, bounds=[(-5, 5)] * 2), seed=0,
                    optimizer=of.GradientDescent(lr=0.01), max_steps=400)
    ax = loss_curve(r)
    saved(ax, tmp_path / "loss.png")
    median = next(line for line in ax.get_lines() if line.get_label().startswith("median"))
    # at the last step every start has finished: the median of their final values
    assert median.get_ydata()[-1] == pytest.approx(np.median([s.fun for s in r.starts]))
    assert np.all(np.diff(median.get_ydata()) <= 1e-12)  # no jump as starts finish


def test_global_trace_draws_the_best_f_against_evaluations(tmp_path):
    from optiframe_plot import global_trace

    runs = {s: of.minimize("rastrigin", bounds=[(-5.12, 5.12)] * 2, strategy=s,
                           max_nfev=1500, seed=0) for s in ("tiktak", "restarts")}
    ax = global_trace(runs, title="rastrigin 2-D")
    saved(ax, tmp_path / "trace.png")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0].startswith("tiktak: f = ") and ax.get_xlabel() == "evaluations"
    line = ax.get_lines()[0]
    assert line.get_xdata()[-1] == runs["tiktak"].nfev
    with pytest.raises(of.InvalidArgumentError, match="strategy"):
        global_trace(of.minimize("sphere", [1.0], max_steps=2))
