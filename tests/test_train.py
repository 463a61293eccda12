"""Training mechanics: exact resume, NaN masking and rollback, settings and bad input."""

import numpy as np
import pandas as pd
import pytest
import torch

from ffnn.field.boundary import cube_faces
from ffnn.util.errors import ConfigError, DataError, FFNNError
from ffnn.analysis.lowlou import lowlou_cube
from ffnn.field.train import TrainConfig, Trainer, load_model, resolve_device, train

SMALL = dict(hidden_layers=2, width=16, n_interior=300, progress=False, iterations_per_step=5,
             checkpoint_every=10, dtype="float64")


@pytest.fixture(scope="module")
def faces():
    return cube_faces(lowlou_cube(shape=(10, 10, 10)))


def test_killed_run_resumes_exactly(faces, tmp_path):
    full = train(faces, TrainConfig(**SMALL, max_iterations=40), tmp_path / "full")
    # the interrupted run stops at 20 iterations (as a killed job leaves its checkpoint) ...
    train(faces, TrainConfig(**SMALL, max_iterations=20), tmp_path / "cut")
    assert (tmp_path / "cut" / "checkpoint.pt").exists()
    # ... and the rerun with the full budget picks up from there
    resumed = train(faces, TrainConfig(**SMALL, max_iterations=40), tmp_path / "cut")
    a = pd.read_csv(tmp_path / "full" / "loss.csv")
    b = pd.read_csv(tmp_path / "cut" / "loss.csv")
    assert list(a.iteration) == list(b.iteration)
    np.testing.assert_array_equal(a.loss.values, b.loss.values)
    for p, q in zip(full.model.parameters(), resumed.model.parameters()):
        assert torch.equal(p, q)


def test_resume_with_other_settings_is_refused(faces, tmp_path):
    train(faces, TrainConfig(**SMALL, max_iterations=10), tmp_path)
    with pytest.raises(ConfigError, match="other settings.*width"):
        train(faces, TrainConfig(**{**SMALL, "width": 8}, max_iterations=20), tmp_path)


def test_nan_boundary_values_are_masked(faces, tmp_path):
    holed = faces.copy(deep=True)
    holed["Bx"].values[:50] = np.nan
    holed["By"].values[:50] = np.nan
    holed["Bz"].values[:50] = np.nan
    holed["Bz"].values[60:70] = np.nan  # one component only
    result = train(holed, TrainConfig(**SMALL, max_iterations=10), tmp_path)
    assert np.isfinite(result.history[-1]["loss"])
    model, meta = load_model(tmp_path / "model.pt")
    assert meta["final"]["loss_bc"] < result.history[0]["loss_bc"]


def test_all_nan_boundary_is_refused(faces):
    empty = faces.copy(deep=True)
    for c in ("Bx", "By", "Bz"):
        empty[c].values[:] = np.nan
    with pytest.raises(DataError, match="no finite value"):
        Trainer(empty, TrainConfig(**SMALL), None)


class FlakyTrainer(Trainer):
    """Returns a NaN loss on chosen evaluations, as an overflow in a real run would."""

    def __init__(self, *a, nan_at=(), **k):
        super().__init__(*a, **k)
        self.calls, self.nan_at = 0, set(nan_at)

    def loss_terms(self, backward=True):
        self.calls += 1
        terms = super().loss_terms(backward)
        if self.calls in self.nan_at:
            with torch.no_grad():
                next(self.model.parameters()).fill_(float("nan"))
            terms = {k: float("nan") for k in terms}
        return terms


def test_nan_loss_rolls_back_to_last_good_state(faces, tmp_path, caplog):
    tr = FlakyTrainer(faces, TrainConfig(**SMALL, max_iterations=30), tmp_path, nan_at={25})
    result = tr.fit()
    assert result.rollbacks == 1 and "rolled back" in caplog.text
    assert all(np.isfinite(h["loss"]) for h in result.history)
    assert all(torch.isfinite(p).all() for p in result.model.parameters())


def test_repeated_nan_stops_with_a_clear_error(faces, tmp_path):
    tr = FlakyTrainer(faces, TrainConfig(**SMALL, max_iterations=30, max_rollbacks=2), tmp_path,
                      nan_at=set(range(5, 400)))
    with pytest.raises(FFNNError, match="diverged"):
        tr.fit()


def test_time_budget_and_tolerance_stop(faces):
    tr = Trainer(faces, TrainConfig(**SMALL, max_iterations=10_000, time_budget_s=0.5), None)
    assert tr.fit().stop_reason == "time_budget"
    tr = Trainer(faces, TrainConfig(**SMALL, max_iterations=10_000, loss_tolerance=1e9), None)
    assert tr.fit().stop_reason == "loss_tolerance"


def test_settings_are_validated():
    with pytest.raises(ConfigError, match="unknown training setting.*widht"):
        TrainConfig.from_dict({"widht": 3})
    with pytest.raises(ConfigError, match="width='many' is not of type"):
        TrainConfig.from_dict({"width": "many"})
    with pytest.raises(ConfigError, match="dtype"):
        TrainConfig.from_dict({"dtype": "float16"})
    assert TrainConfig.from_dict({"quasi_output": "false", "time_budget_s": 60}).time_budget_s == 60.0
    # NaN slips through comparisons, so each float is checked for being finite
    for name, value in (("lambda_ff", "nan"), ("lambda_div", "inf"), ("first_layer_scale", "inf"),
                        ("time_budget_s", "inf")):
        with pytest.raises(ConfigError, match=f"{name}=.* must be a finite number"):
            TrainConfig.from_dict({name: value})
    for name, value, allowed in (("seed", -1, ">= 0"), ("threads", -1, ">= 1 or null"), ("threads", 0, ">= 1 or null"),
                                 ("device", "tpu", "auto, cpu, cuda or cuda:N")):
        with pytest.raises(ConfigError, match=f"{name}={value!r} is out of range: it must be {allowed}$"):
            TrainConfig.from_dict({name: value})


def test_training_stops_at_max_iterations(faces, tmp_path):
    """Steps are iterations_per_step long (5 here) but the last one is cut to max_iterations."""
    result = train(faces, TrainConfig(**SMALL, max_iterations=7), tmp_path)
    assert result.stop_reason == "max_iterations" and result.meta["iterations"] == 7
    assert list(pd.read_csv(tmp_path / "loss.csv").iteration) == [5, 7]
    untrained = Trainer(faces, TrainConfig(**SMALL, max_iterations=0), None)
    assert untrained.fit().meta["iterations"] == 0 and untrained.history == []


def test_device_selection():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        resolve_device("cuda")
    assert resolve_device("auto").type == "cpu"


def test_warm_start_begins_where_the_given_model_ended(faces, tmp_path):
    first = train(faces, TrainConfig(**SMALL, max_iterations=30), tmp_path / "first")
    warm = Trainer(faces, TrainConfig(**SMALL, max_iterations=30, seed=1), None,
                   init_model=tmp_path / "first" / "model.pt")
    for p, q in zip(first.model.parameters(), warm.model.parameters()):
        assert torch.equal(p, q)
    cold = Trainer(faces, TrainConfig(**SMALL, max_iterations=30, seed=1), None)
    assert warm.loss_terms(backward=False)["loss"] < 0.5 * cold.loss_terms(backward=False)["loss"]
    with pytest.raises(ConfigError, match="network differs.*width 16 vs 8"):
        Trainer(faces, TrainConfig(**{**SMALL, "width": 8}), None, init_model=tmp_path / "first" / "model.pt")


def test_a_finished_training_is_not_continued(faces, tmp_path):
    train(faces, TrainConfig(**SMALL, max_iterations=20), tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    again = train(faces, TrainConfig(**SMALL, max_iterations=20), tmp_path)
    assert not again.trained and again.stop_reason == "max_iterations"
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    # a larger budget is a resumable change: training goes on from the checkpoint
    more = train(faces, TrainConfig(**SMALL, max_iterations=30), tmp_path)
    assert more.trained and more.history[-1]["iteration"] == 30


def test_unphysical_boundary_value_is_named_at_its_source(tmp_path):
    from ffnn.field.boundary import load_boundary

    faces = cube_faces(lowlou_cube(shape=(8, 8, 8)))
    faces["Bz"].values[7] = 1e30  # a fill value that would overflow float32 when squared
    faces.to_netcdf(tmp_path / "faces.nc")
    with pytest.raises(DataError, match=r"faces.nc: Bz = 1e\+30 G at x=.* Mm, y=.*, z=.* \(1 value\(s\) beyond"):
        load_boundary([tmp_path / "faces.nc"])


def test_non_finite_start_is_refused_before_any_step(faces):
    huge = faces.copy(deep=True)
    huge["Bx"].values[:] = 3e30  # past any check on the files: the loss itself overflows
    with pytest.raises(DataError, match="not finite before training starts.*largest boundary value 3e"):
        Trainer(huge, TrainConfig(**{**SMALL, "dtype": "float32"}, max_iterations=10), None).fit()


def test_training_log_has_a_line_per_step(faces, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="ffnn.field.train")
    Trainer(faces, TrainConfig(**SMALL, max_iterations=20, time_budget_s=600), None).fit()
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("iteration ")]
    assert len(lines) == 4  # 20 iterations in steps of 5
    assert "iteration 20: loss" in lines[-1] and "it/s" in lines[-1] and "s left" in lines[-1]


def test_potential_field_start_fits_the_potential_field_first(faces, tmp_path):
    from ffnn.field.boundary import cube_faces as faces_of
    from ffnn.field.boundary import from_cube
    from ffnn.field.potential import potential_cube

    ref = lowlou_cube(shape=(10, 10, 10))
    pf = potential_cube(from_cube(ref), nz=10)
    cfg = TrainConfig(**SMALL, potential_iterations=20, warmup_iterations=10, max_iterations=40)
    tr = Trainer(faces_of(ref, ("bottom",)), cfg, None, potential=pf)
    phases, weights = [], []

    def watch(t):
        phases.append(t.phase())
        weights.append(t.physics_weight())

    tr.fit(callback=watch)
    assert phases[:4] == ["potential"] * 4 and phases[4:6] == ["warmup"] * 2 and phases[-1] == "physics"
    assert weights[:4] == [0.0] * 4 and weights[-1] == 1.0
    # after the potential phase the network is close to the potential field in the volume
    model_err = tr.history[3]["loss_bc"]
    assert model_err < 0.1 * tr.history[0]["loss_bc"]
    with pytest.raises(ConfigError, match="potential_iterations=20 needs the potential-field cube"):
        from ffnn.cli.model import cmd_train
        import argparse

        faces.to_netcdf(tmp_path / "f.nc")
        cmd_train(argparse.Namespace(boundary=[tmp_path / "f.nc"], config=None, threads=None, device=None,
                                     set=["potential_iterations=20"], outdir=tmp_path, no_resume=False,
                                     init_model=None, potential=None))


def test_boundary_weights_trust_data_by_source_and_component():
    from ffnn.field.sampling import BoundaryArrays
    from ffnn.field.train import boundary_weights

    n = 4
    bd = BoundaryArrays(xyz=np.zeros((n, 3)), target=np.ones((n, 3)), mask=np.ones((n, 3), bool),
                        error=np.tile([19.0, 19.0, 7.0], (n, 1)), potential=np.array([False, False, True, True]))
    flat = (np.zeros(1), np.ones(1))  # no height dependence
    plain = boundary_weights(bd, flat, TrainConfig(potential_weight=0.1, bc_errors="none"))
    np.testing.assert_allclose(plain[:2], 1.0)
    np.testing.assert_allclose(plain[2:], 0.1)  # potential-field points trusted less
    comp = boundary_weights(bd, flat, TrainConfig(bc_errors="component"))
    inv = np.array([19.0, 19.0, 7.0]) ** -2
    np.testing.assert_allclose(comp[0], 3 * inv / inv.sum())  # mean 1 over the components
    np.testing.assert_allclose(comp[2:], 1.0)  # errors of observed data only


def test_held_bottom_keeps_the_observed_map_exactly(tmp_path):
    from ffnn.field.boundary import cube_faces as faces_of
    from ffnn.field.cube import model_cube

    ref = lowlou_cube(shape=(10, 10, 10))
    bottom_only = faces_of(ref, ("bottom",))
    cfg = TrainConfig(**SMALL, max_iterations=10, warmup_iterations=5, hold_bottom=2)
    result = train(bottom_only, cfg, tmp_path)
    model, meta = load_model(tmp_path / "model.pt")
    assert "observed bottom held" in meta["architecture"]
    cube = model_cube(model, meta)
    for c in ("Bx", "By", "Bz"):
        np.testing.assert_allclose(cube[c].isel(z=0).values, ref[c].isel(z=0).values, atol=1e-8)
    # the held points leave the boundary term: with no other data it is empty
    assert result.history[-1]["loss_bc"] == 0.0
    # a warm start takes the network's weights, and holds its own data's bottom
    warm = Trainer(bottom_only, cfg, None, init_model=tmp_path / "model.pt")
    for p, q in zip(model.net.parameters(), warm.net.parameters()):
        assert torch.equal(p, q)
    with pytest.raises(ConfigError, match="hold_bottom needs an observed bottom map"):
        Trainer(faces_of(ref, ("top", "x_min")), cfg, None)


def test_train_refuses_a_potential_field_of_another_grid(faces, tmp_path, capsys):
    """A potential cube of another box was taken: its start fitted the field of other places."""
    from ffnn.cli import main

    faces.to_netcdf(tmp_path / "faces.nc")
    lowlou_cube(shape=(8, 8, 8)).to_netcdf(tmp_path / "pot.nc")
    args = ["train", str(tmp_path / "faces.nc"), "--potential", str(tmp_path / "pot.nc"), "--outdir",
            str(tmp_path / "out"), "--set", "max_iterations=0"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"ffnn train: error: --potential {tmp_path / 'pot.nc'} is on "
                                                "another grid: axis x has 8 points"), err
    lowlou_cube(shape=(10, 10, 10)).to_netcdf(tmp_path / "pot.nc")
    assert main(args) == 0



def test_the_network_trainer_refuses_another_representation(faces):
    """Trainer fits the tanh network; given spline_grid settings it would write a record that
    names spline_grid over a network (load_model then failed far from the cause)."""
    with pytest.raises(ConfigError, match="use make_trainer"):
        Trainer(faces, TrainConfig(representation="spline_grid"), None)
