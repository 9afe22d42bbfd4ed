"""plots.draw_network: one circle per neuron, one line per weight, the true widths in the labels
(even when a wide layer is drawn shortened), and bad input refused with a clear message."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402

from tinyml_helpers import plots  # noqa: E402


def _drawn(ax):
    neurons = sum(len(c.get_offsets()) for c in ax.collections
                  if not isinstance(c, LineCollection))
    lines = sum(len(c.get_segments()) for c in ax.collections if isinstance(c, LineCollection))
    texts = [t.get_text() for t in ax.texts]
    return neurons, lines, texts


def test_the_hello_world_network_has_a_circle_per_neuron_and_a_line_per_weight():
    fig, ax = plt.subplots()
    assert plots.draw_network((1, 16, 16, 1), ax=ax) is ax
    neurons, lines, texts = _drawn(ax)
    assert neurons == 1 + 16 + 16 + 1
    assert lines == 16 + 16 * 16 + 16
    assert texts == ["input\n1 value", "hidden 1\n16 ReLU", "hidden 2\n16 ReLU",
                     "output\n1 value"]
    assert "321 weights and biases" in ax.get_title()
    plt.close(fig)


def test_a_wide_layer_is_shortened_but_labelled_with_its_true_width():
    ax = plots.draw_network([3, 40, 2], max_drawn=10)
    neurons, lines, texts = _drawn(ax)
    assert neurons == 3 + 10 + 2 and lines == 3 * 10 + 10 * 2
    assert "⋮" in texts and "hidden 1\n40 ReLU" in texts and "output\n2 values" in texts
    assert "3-40-2 network: 242 weights" in ax.get_title()
    # The circles stay inside the axes and the two halves of the wide layer leave a gap.
    ys = np.sort(ax.collections[2].get_offsets()[:, 1])
    assert np.max(np.diff(ys)) > 1.5 * np.min(np.diff(ys))
    low, high = ax.get_ylim()
    assert low < ys.min() and ys.max() < high
    plt.close(ax.figure)


@pytest.mark.parametrize("kwargs, error, fragment", [
    ({"widths": "1-16-1"}, TypeError, "list of layer sizes"),
    ({"widths": (1,)}, ValueError, "at least an input and an output"),
    ({"widths": (1, 0, 1)}, ValueError, "must be positive"),
    ({"widths": (1, 2.5, 1)}, TypeError, "must be ints"),
    ({"max_drawn": 1}, ValueError, "max_drawn must be >= 2"),
    ({"ax": "left"}, TypeError, "ax must be Matplotlib axes"),
])
def test_bad_input_is_refused_with_a_clear_message(kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        plots.draw_network(**kwargs)


# --- plots.figure_only: what interact shows under a slider ----------------------------------

def test_figure_only_draws_without_a_return_value_and_keeps_the_signature():
    import inspect

    calls = []

    def show_error(sparsity=0.7, layers="dense_2 only"):
        """Draw and return the error."""
        calls.append((sparsity, layers))
        return 0.036497775465250015

    draw = plots.figure_only(show_error)
    assert draw(0.5, layers="all layers") is None
    assert calls == [(0.5, "all layers")]
    assert show_error() == 0.036497775465250015  # the original keeps its value
    # interact builds one control per parameter, from the signature and its defaults
    assert list(inspect.signature(draw).parameters) == ["sparsity", "layers"]
    assert inspect.signature(draw).parameters["sparsity"].default == 0.7
    assert draw.__name__ == "show_error" and draw.__doc__ == "Draw and return the error."
