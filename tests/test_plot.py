"""Pictures (w2v.plot): PCA, neighbour groups, default words, valid image files, atomic writes, the errors
for a missing matplotlib or scikit-learn, an unknown word or a bad file name."""

from __future__ import annotations

import os
import sys
import types

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from w2v import formats, plot  # noqa: E402
from w2v.errors import ModelFileError, UnknownWordError, W2VError  # noqa: E402
from w2v.vectors import KeyedVectors  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def kv() -> KeyedVectors:
    """4 clusters of 12 words ('a0'..'d11', 16 dims), plus a few function words, most frequent first."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 16))
    words, vectors = ["the", "and", "unto", "which"], list(rng.normal(size=(4, 16)))
    for g, name in enumerate("abcd"):
        for i in range(12):
            words.append(f"{name}{i}")
            vectors.append(centres[g] + 0.3 * rng.normal(size=16))
    counts = np.arange(len(words), 0, -1) * 10
    return KeyedVectors(words, np.array(vectors, dtype=np.float32), counts)


def assert_png(path) -> None:
    with open(path, "rb") as f:
        head = f.read(8)
    assert head == PNG_SIGNATURE
    assert os.path.getsize(path) > 1000


def no_temp_files(directory) -> bool:
    return not [n for n in os.listdir(directory) if n.endswith(".tmp")]


# -- projection and choice of words -----------------------------------------------------------------
def test_pca_matches_the_covariance_eigenvectors():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 8)) * np.array([5, 3, 1, 1, 1, 1, 1, 1])
    coords, explained = plot.pca_2d(x)
    centred = x - x.mean(axis=0)
    evals, evecs = np.linalg.eigh(np.cov(centred.T))
    top = evecs[:, ::-1][:, :2]                                        # (d, 2), largest first
    np.testing.assert_allclose(np.abs(coords), np.abs(centred @ top), atol=1e-9)
    np.testing.assert_allclose(explained, evals[::-1][:2] / evals.sum(), rtol=1e-9)
    # signs fixed: the largest loading of each component is positive, whatever the sign SVD returned
    coords2, _ = plot.pca_2d(x[::-1])
    np.testing.assert_allclose(coords2[::-1], coords, atol=1e-9)


def test_pca_degenerate_inputs():
    assert plot.pca_2d(np.ones((1, 5)))[0].tolist() == [[0.0, 0.0]]
    coords, explained = plot.pca_2d(np.array([[0.0], [1.0], [3.0]]))  # one dimension: one component
    assert coords[:, 1].tolist() == [0.0, 0.0, 0.0] and explained[0] == pytest.approx(1.0)


def test_neighbour_groups_plot_each_word_once(kv):
    plotted, group, links = plot.neighbour_groups(kv, ["a0", "a1", "b0"], neighbours=4)
    assert plotted[:3] == ["a0", "a1", "b0"]
    assert len(plotted) == len(set(plotted))
    assert group[:3] == [0, 1, 2]
    assert len(links) == 12  # every query linked to each of its 4 neighbours, shared ones included
    assert all(w.startswith("a") for w, g in zip(plotted, group) if g in (0, 1))


def test_default_words_are_distinct_content_words(kv):
    words = plot.default_words(kv, n=4)
    assert len(words) == 4 and len(set(words)) == 4
    assert not {"the", "and", "unto", "which"} & set(words)
    assert {w[0] for w in words} == set("abcd")  # one per cluster: far from one another


# -- pictures ---------------------------------------------------------------------------------------
def test_plot_words_writes_a_png(kv, tmp_path):
    out = tmp_path / "words.png"
    plotted = plot.plot_words(kv, ["a0", "b0", "c0"], out, neighbours=5)
    assert_png(out)
    assert plotted[:3] == ["a0", "b0", "c0"] and len(plotted) == 18
    assert no_temp_files(tmp_path)


def test_labels_do_not_overlap(kv):
    fig, plotted = plot.words_figure(kv, ["a0", "b0", "c0", "d0"], neighbours=5)
    renderer = fig.canvas.get_renderer()
    texts = [t for t in fig.axes[0].texts]
    assert sorted(t.get_text() for t in texts) == sorted(plotted)  # every word labelled, once
    boxes = [t.get_window_extent(renderer) for t in texts]
    overlapping = [(texts[i].get_text(), texts[j].get_text()) for i in range(len(boxes))
                   for j in range(i) if plot._overlap(boxes[i], boxes[j]) > 0]
    assert overlapping == []


def test_plot_words_svg_and_no_neighbours(kv, tmp_path):
    out = tmp_path / "words.svg"
    assert plot.plot_words(kv, ["a0", "a0", "d3"], out, neighbours=0, title="two words") == ["a0", "d3"]
    assert b"<svg" in out.read_bytes()[:2000]


def test_plot_words_unknown_word_suggests_and_writes_nothing(kv, tmp_path):
    out = tmp_path / "words.png"
    with pytest.raises(UnknownWordError, match="did you mean 'a1'"):
        plot.plot_words(kv, ["a0", "a1x"], out)
    assert not out.exists()


@pytest.mark.parametrize("kwargs, match", [({"method": "umap"}, "'method'"), ({"neighbours": -1}, "neighbours"),
                                           ({"neighbours": 2.5}, "neighbours"),
                                           ({"neighbours": 400}, "401 points: at most 400 make a readable")])
def test_plot_words_bad_arguments(kv, tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot.plot_words(kv, ["a0"], tmp_path / "w.png", **kwargs)
    with pytest.raises(ValueError, match="at least one word"):
        plot.plot_words(kv, [], tmp_path / "w.png")


def test_unknown_image_extension(kv, tmp_path):
    with pytest.raises(plot.PlotFormatError, match=r"\.png, \.svg or \.pdf") as err:
        plot.plot_words(kv, ["a0"], tmp_path / "words.bmp")
    assert isinstance(err.value, (ValueError, W2VError))
    assert not (tmp_path / "words.bmp").exists()


def test_a_failed_save_leaves_no_partial_file(kv, tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    def broken_savefig(self, f, **kwargs):
        f.write(PNG_SIGNATURE + b"half a picture")
        raise OSError("disk full")

    out = tmp_path / "words.png"
    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    with pytest.raises(OSError, match="disk full"):
        plot.plot_words(kv, ["a0"], out)
    assert not out.exists() and no_temp_files(tmp_path)

    out.write_bytes(b"the old picture")  # an existing file is left untouched
    with pytest.raises(OSError, match="disk full"):
        plot.plot_loss([{"epoch": 1, "loss": 2.0}], out)
    assert out.read_bytes() == b"the old picture" and no_temp_files(tmp_path)


def test_dollars_are_drawn_as_they_are_and_missing_glyphs_are_one_warning(tmp_path, caplog, recwarn):
    words = ["$\\frac$", "$x^2$", "\u65e5\u672c", "\u6771\u4eac", "a", "b"]  # TeX-like tokens, CJK
    kv = KeyedVectors(words, np.random.default_rng(0).random((6, 5)))
    with caplog.at_level("WARNING", logger="w2v"):
        plotted = plot.plot_words(kv, words[:3], tmp_path / "w.png", neighbours=1, title="$t$ and $\\frac$")
    assert set(words[:3]) <= set(plotted) and (tmp_path / "w.png").stat().st_size > 0  # no mathtext error
    assert not [w for w in recwarn if "missing from font" in str(w.message)]
    if "font lacks" in caplog.text:  # (a machine with a CJK font draws them)
        assert caplog.text.count("font lacks") == 1
    plot.plot_loss([{"epoch": 1, "loss": 2.0}, {"epoch": 2, "loss": 1.5}], tmp_path / "l.png", title="$\\frac$")


def test_missing_matplotlib_says_how_to_install(kv, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # `import` of it now raises ImportError
    with pytest.raises(plot.PlotDependencyError, match=r"pip install 'w2v\[plot\]'") as err:
        plot.plot_words(kv, ["a0"], tmp_path / "w.png")
    assert isinstance(err.value, ImportError) and isinstance(err.value, W2VError)
    assert not (tmp_path / "w.png").exists()


def test_tsne_without_scikit_learn(kv, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.manifold", None)
    with pytest.raises(plot.PlotDependencyError, match="pip install scikit-learn"):
        plot.plot_words(kv, ["a0"], tmp_path / "w.png", method="tsne")
    assert not (tmp_path / "w.png").exists()


def test_tsne_calls_scikit_learn_sensibly(kv, tmp_path, monkeypatch):
    seen = {}

    class FakeTSNE:
        def __init__(self, **kwargs):
            seen.update(kwargs)

        def fit_transform(self, x):
            seen["n"] = len(x)
            return x[:, :2]

    manifold = types.ModuleType("sklearn.manifold")
    manifold.TSNE = FakeTSNE
    monkeypatch.setitem(sys.modules, "sklearn", types.ModuleType("sklearn"))
    monkeypatch.setitem(sys.modules, "sklearn.manifold", manifold)
    out = tmp_path / "w.png"
    plot.plot_words(kv, ["a0", "b0"], out, neighbours=3, method="tsne", seed=5)
    assert_png(out)
    assert seen["n"] == 8 and 0 < seen["perplexity"] < seen["n"]
    assert seen["metric"] == "cosine" and seen["random_state"] == 5 and seen["n_components"] == 2


# -- the loss ---------------------------------------------------------------------------------------
LOG = [{"epoch": e, "loss": 3.0 / e, "alpha_start": 0.025 * (1 - (e - 1) / 3), "alpha_end": 0.025 * (1 - e / 3)}
       for e in (1, 2, 3)]


def test_plot_loss_writes_a_png(tmp_path):
    plot.plot_loss(LOG, tmp_path / "loss.png")
    assert_png(tmp_path / "loss.png")
    plot.plot_loss([{"epoch": 1, "loss": 2.5}], tmp_path / "one.png", title="no learning rate")
    assert_png(tmp_path / "one.png")


@pytest.mark.parametrize("log, match", [([], "empty"), ([{"epoch": 1}], "'loss'"), ([3.0], "entry 0")])
def test_plot_loss_bad_log(tmp_path, log, match):
    with pytest.raises(ValueError, match=match):
        plot.plot_loss(log, tmp_path / "loss.png")
    assert not (tmp_path / "loss.png").exists()


def test_value_labels_stay_off_the_line():
    y = np.array([3.0, 2.0, 1.0, 1.5, 2.5])
    sides = [plot._value_label_side(y, k)[1] for k in range(len(y))]   # vertical offsets
    assert sides[0] > 0            # the first point, the line goes down from it: label above
    assert sides[2] < 0            # the valley: below
    assert sides[4] > 0            # the last point, reached from below: above


def test_load_training_log(tmp_path):
    model = tmp_path / "m.w2v"
    formats.save_native(model, words=["a"], arrays={"vectors": np.zeros((1, 2), np.float32)},
                        header={"kind": "model", "training_log": LOG})
    assert plot.load_training_log(model) == LOG
    vectors = tmp_path / "v.w2v"
    KeyedVectors(["a"], np.zeros((1, 2))).save(vectors)
    with pytest.raises(ModelFileError, match="no training log.*kind 'vectors'"):
        plot.load_training_log(vectors)
    text = tmp_path / "v.txt"
    KeyedVectors(["a"], np.zeros((1, 2))).save_word2vec_format(text, binary=False)
    with pytest.raises(ModelFileError, match="no training log: it is a word2vec C-format file"):
        plot.load_training_log(text)
