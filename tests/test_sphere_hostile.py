"""Hostile inputs to sslteach.sphere: each bad call fails with a message that says what to do, or the
case is computed correctly (rows of any length). All-zero rows are refused: they have no point on
the unit sphere. CPU only."""
import pytest
import torch

from sslteach.sphere import alignment, uniformity


def views(n=6, d=8, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    z1 = torch.randn(n, d, generator=g, dtype=dtype)
    return z1, z1 + 0.5 * torch.randn(n, d, generator=g, dtype=dtype)  # correlated: the positive matters


# ---- rows of any length: the diagnostics depend on directions only ---------------------------------

SCALED = {  # name -> f(z1, z2) as a float
    "alignment": lambda a, b: alignment(a, b).item(),
    "uniformity": lambda a, b: uniformity(torch.cat([a, b])).item(),
}


@pytest.mark.parametrize("scale", [1e-30, 1e-20, 1e20, 1e30])
@pytest.mark.parametrize("name", SCALED)
def test_float32_rows_of_any_length_give_the_value_at_length_one(name, scale):
    # before: ‖z‖² overflowed to inf at 1e30 and fell below F.normalize's epsilon at 1e-30
    z1, z2 = views()
    fn = SCALED[name]
    assert fn(z1 * scale, z2 * scale) == pytest.approx(fn(z1, z2), abs=1e-5)


# ---- all-zero rows: refused, as they have no point on the sphere ------------------------------------

@pytest.mark.parametrize("call", [lambda z: alignment(z, z.clone()), lambda z: uniformity(z)],
                         ids=["alignment", "uniformity"])
def test_dead_output_is_refused_by_the_sphere_diagnostics(call):
    # before: alignment 0 and uniformity -4, both "perfect"
    with pytest.raises(ValueError, match=r"dead output.*collapsed \(the worst case, not a perfect score\)"):
        call(torch.zeros(6, 4))


@pytest.mark.parametrize("call", [lambda a, b: alignment(a, b), lambda a, b: uniformity(a)],
                         ids=["alignment", "uniformity"])
def test_some_zero_rows_are_refused_with_their_index(call):
    z1, z2 = views()
    z1[3] = 0
    with pytest.raises(ValueError, match=r"1 of the 6 rows of z1? is all zeros \(rows \[3\]\).*drop those rows"):
        call(z1, z2)


# ---- numbers: alpha, t ------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,error,match", [
    (dict(alpha=True), TypeError, "alpha must be a number > 0.*alpha=2"),
    (dict(alpha=0), ValueError, "alpha must be a number > 0.*alpha=2"),
    (dict(alpha=float("nan")), ValueError, "alpha must be a number > 0"),
])
def test_alignment_refuses_bad_alpha(kwargs, error, match):
    with pytest.raises(error, match=match):
        alignment(*views(), **kwargs)


@pytest.mark.parametrize("t,error", [(True, TypeError), (0, ValueError), (-2, ValueError),
                                     (float("inf"), ValueError)])
def test_uniformity_refuses_bad_t(t, error):
    with pytest.raises(error, match="t must be a number > 0.*t=2"):
        uniformity(views()[0], t)


# ---- tensors: type, shape, values ---------------------------------------------------------------------

ALL = [alignment]


@pytest.mark.parametrize("fn", ALL)
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_projections_point_at_the_training(fn, bad):
    z1, z2 = views()
    z2[1, 2] = bad
    with pytest.raises(ValueError, match="z2 holds .*diverged.*lower the learning rate"):
        fn(z1, z2)


def test_uniformity_refuses_nan():
    z = views()[0]
    z[0, 0] = float("nan")
    with pytest.raises(ValueError, match="z holds 1 NaN.*lower the learning rate"):
        uniformity(z)


@pytest.mark.parametrize("fn", ALL)
def test_a_list_is_refused_with_the_conversion(fn):
    with pytest.raises(TypeError, match=r"z1 must be a tensor.*torch\.as_tensor"):
        fn([[1.0, 2.0], [3.0, 4.0]], torch.ones(2, 2))


@pytest.mark.parametrize("fn", ALL)
def test_zero_width_rows_are_refused(fn):
    with pytest.raises(ValueError, match="at least D = 1"):
        fn(torch.ones(4, 0), torch.ones(4, 0))


def test_uniformity_needs_two_vectors():
    with pytest.raises(ValueError, match=r"N >= 2 vectors.*torch\.cat\(\[z1, z2\]\)"):
        uniformity(torch.ones(1, 3))
