"""explorer.view_state: the Explore page's link, round trip and bad values."""

import pytest

from explorer import view_state as vs
from explorer.view_state import ViewState, parse_view, to_query

MODELS = ["pretrained (default)", "beta2"]


def _parse(query, n_rows=2000):
    return parse_view(query, models=MODELS, n_rows=n_rows)


def test_a_full_view_survives_the_round_trip_through_the_link():
    view = ViewState(model="beta2", compare="pretrained (default)", colour_by="a",
                     cyclic_scale="Phase", manifold=False, iso=True, error_map=True, axes=(2, 0),
                     z=(0.1 + 0.2, -1.23456789), z_on=1, a=1713, b=(3.0, -0.5), t=0.37,
                     method="spherical", frames=17)
    parsed, problems = _parse(to_query(view))
    assert problems == []
    assert parsed == view
    assert parsed.z[0] == 0.1 + 0.2  # bit for bit: the same z decodes to the same pixels


def test_an_empty_link_is_the_default_view():
    assert _parse({}) == (vs.DEFAULT, [])


def test_the_link_is_readable():
    query = to_query(ViewState(model="beta2", z=(0.25, -1.0), a=1713, b=310, colour_by="θ"))
    assert query["z"] == "0.25,-1" and query["A"] == "1713" and query["B"] == "310"
    assert query["colour"] == "theta" and query["axes"] == "z1,z2"
    assert "vs" not in query  # no comparison: not in the link


@pytest.mark.parametrize("name, value, field", [
    ("model", "deleted-run", "model"),
    ("vs", "gone", "compare"),
    ("colour", "purple", "colour_by"),
    ("cyclic", "Jet", "cyclic_scale"),
    ("manifold", "yes", "manifold"),
    ("iso", "2", "iso"),
    ("errors", "on", "error_map"),
    ("axes", "z1,z1", "axes"),
    ("axes", "x,y", "axes"),
    ("axes", "z0,z2", "axes"),
    ("z", "abc", "z"),
    ("z", "1,2,3", "z"),
    ("z", "nan,1", "z"),
    ("z", "inf,0", "z"),
    ("A", "-4", "a"),
    ("A", "2000", "a"),  # one past the last row
    ("B", "1.5", "b"),
    ("t", "7", "t"),
    ("t", "nan", "t"),
    ("t", "-0.1", "t"),
    ("path", "wiggly", "method"),
    ("frames", "3", "frames"),
    ("frames", "1e9", "frames"),
])
def test_a_bad_value_keeps_its_default_and_is_named_once(name, value, field):
    good = {"t": "0.25", "colour": "a"}
    view, problems = _parse({**good, name: value})
    assert getattr(view, field) == getattr(vs.DEFAULT, field)
    assert len(problems) == 1 and problems[0].startswith(f'{name} = "'), problems
    # the rest of the link still counts
    if name != "t":
        assert view.t == 0.25
    if name != "colour":
        assert view.colour_by == "a"


def test_several_bad_values_make_one_warning_naming_each():
    _, problems = _parse({"model": "deleted-run", "z": "abc", "t": "7"})
    text = vs.warning_text(problems)
    assert text.count("\n") == 0
    for part in ('model = "deleted-run"', 'z = "abc"', 't = "7"'):
        assert part in text
    assert vs.warning_text([]) is None


def test_a_long_bad_value_is_shortened_in_the_warning():
    _, problems = _parse({"z": "x" * 500})
    assert len(problems[0]) < 80


def test_lists_of_values_use_the_last_and_unknown_names_are_ignored():
    view, problems = _parse({"t": ["0.1", "0.9"], "a_mean": "2.5"})
    assert view.t == 0.9 and problems == []


def test_comparing_a_model_with_itself_is_refused():
    view, problems = _parse({"model": "beta2", "vs": "beta2"})
    assert view.model == "beta2" and view.compare is None
    assert len(problems) == 1


def test_axes_beyond_the_models_latent_size_fall_back_to_the_first_two():
    view, _ = _parse({"axes": "z3,z1"})
    assert view.axes == (2, 0)
    assert vs.check_axes(view, latent_dim=3) == (view, [])
    fixed, problems = vs.check_axes(view, latent_dim=2)
    assert fixed.axes == (0, 1) and "2 latent dimension" in problems[0]


def test_the_options_match_the_page_and_the_maths():
    from explorer.latent_plots import COLOUR_BY, CYCLIC_SCALES
    from vaeflow.latent import METHODS

    assert vs.COLOUR_BY == COLOUR_BY and vs.CYCLIC_SCALES == CYCLIC_SCALES
    assert tuple(vs.METHODS) == tuple(METHODS)


def test_a_point_clicked_on_the_compared_map_says_so_and_needs_that_map():
    view = ViewState(model="beta2", compare="pretrained (default)", z=12, z_on=1)
    assert to_query(view)["zmap"] == "2"
    assert _parse(to_query(view)) == (view, [])
    parsed, problems = _parse({"z": "12", "zmap": "2"})
    assert parsed.z == 12 and parsed.z_on == 0 and len(problems) == 1
    _, problems = _parse({"zmap": "3"})
    assert problems == ['zmap = "3": expected 1 or 2']
