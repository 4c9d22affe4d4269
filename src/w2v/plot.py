"""Pictures: words and their nearest neighbours in 2-D, and the training loss per epoch.

matplotlib is an optional extra (``pip install 'w2v[plot]'``), imported only inside these functions, so
importing w2v never needs it.  Figures are drawn with the Agg canvas directly (``matplotlib.figure.Figure``,
not ``pyplot``): no process-wide backend is switched and no figure registry grows, so the functions are safe
to call from a notebook or a server.  Every picture is written atomically (:func:`w2v.formats.atomic_write`):
a failure leaves no partial file and an existing one untouched.  The image format follows the file name
(``.png``, ``.svg``, ``.pdf``, ...).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import warnings
from typing import Any, Iterator, Sequence

import numpy as np

from . import formats
from .errors import ConfigError, ModelFileError, W2VError

logger = logging.getLogger("w2v")

METHODS = ("pca", "tsne")
MAX_POINTS = 400            # words and neighbours in one picture: beyond, the labels cover each other
PLOT_INSTALL_HINT = "pip install 'w2v[plot]'"
_DPI = 110                  # 8 x 6.5 in -> about 880 x 715 px: sharp in a README, well under 150 KB as PNG
_LABEL_PT = 7.5             # neighbour labels; the query words are a little larger and bold
_QUERY_PT = 9.5
# label offsets (points) tried in turn around a point: right, left, above, below, the diagonals, then the
# same further out (drawn with a thin leader line).  (dx, dy, horizontal, vertical alignment)
_NEAR = [(5, 0, "left", "center"), (-5, 0, "right", "center"), (0, 5, "center", "bottom"),
         (0, -5, "center", "top"), (4, 4, "left", "bottom"), (4, -4, "left", "top"),
         (-4, 4, "right", "bottom"), (-4, -4, "right", "top")]
_OFFSETS = _NEAR + [(2.6 * dx, 2.6 * dy, ha, va) for dx, dy, ha, va in _NEAR]


class PlotDependencyError(W2VError, ImportError):
    """An optional package a picture needs (matplotlib, or scikit-learn for t-SNE) is not installed."""


class PlotFormatError(W2VError, ValueError):
    """An image file name whose extension matplotlib cannot write."""


# -- matplotlib, lazily -------------------------------------------------------------------------------
def _matplotlib() -> tuple[Any, Any]:
    """(Figure, FigureCanvasAgg), or :class:`PlotDependencyError` saying how to install matplotlib."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotDependencyError(f"pictures need matplotlib, which is not installed: "
                                  f"{PLOT_INSTALL_HINT}") from None
    return Figure, FigureCanvasAgg


def image_format(path: str | os.PathLike) -> str:
    """The image format of ``path`` from its extension ("png", "svg", "pdf", ...); a ValueError if unknown.

    Also checks that matplotlib is installed (:class:`PlotDependencyError` otherwise), so a command can call
    it before any long work (``w2v train --plot-loss``).
    """
    _matplotlib()
    from matplotlib.backend_bases import FigureCanvasBase

    supported = FigureCanvasBase.get_supported_filetypes()
    ext = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    if ext not in supported:
        shown = f"'.{ext}'" if ext else "no extension"
        raise PlotFormatError(f"cannot tell the image format of {os.fspath(path)!r} ({shown}): name it "
                              f".png, .svg or .pdf (or .jpg, .webp, .eps, ...: any format matplotlib writes)")
    if ext == "pgf":
        import shutil

        import matplotlib

        tex = matplotlib.rcParams["pgf.texsystem"]
        if shutil.which(tex) is None:
            raise PlotFormatError(f"{os.fspath(path)!r}: matplotlib writes .pgf with LaTeX ({tex}), which is not "
                                  "installed here; install it, or name the picture .pdf, .svg or .png")
    return ext


def _new_figure(size: tuple[float, float]) -> tuple[Any, Any]:
    Figure, FigureCanvasAgg = _matplotlib()
    fig = Figure(figsize=size, dpi=_DPI)
    FigureCanvasAgg(fig)  # attaches itself: text extents can be measured before saving
    return fig, fig.add_subplot()


def _save(fig: Any, path: str | os.PathLike) -> None:
    """Write ``fig`` to ``path`` atomically, in the format its extension names."""
    fmt = image_format(path)
    with formats.atomic_write(path) as f:
        fig.savefig(f, format=fmt, dpi=_DPI, bbox_inches="tight", pad_inches=0.15, facecolor="white")


def _literal(text: str) -> str:
    """``text`` drawn as it is: matplotlib reads a pair of ``$`` as mathematics (``$x^2$`` drawn as a formula,
    ``$\\frac$`` an error), and words and titles are not formulas."""
    return text.replace("$", r"\$")


@contextlib.contextmanager
def _missing_glyphs() -> Iterator[None]:
    """matplotlib warns once a character for each glyph its fonts lack (CJK, emoji): one warning instead,
    that says what to install."""
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
    finally:
        _report_glyphs(caught)


def _report_glyphs(caught: list) -> None:
    missing = [w for w in caught if "missing from font" in str(w.message)]
    for w in caught:
        if w not in missing:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if missing:
        logger.warning("the picture's font lacks %d of its characters (drawn as boxes): install a font that "
                       "has them, such as Noto Sans CJK for Chinese, Japanese and Korean, for matplotlib to "
                       "find", len({str(w.message) for w in missing}))


# -- projections --------------------------------------------------------------------------------------
def pca_2d(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first two principal components of the rows of ``vectors`` (n, d), by SVD of the centred rows.

    Returns (coords (n, 2) float64, explained (2,) the fraction of the variance each component holds).
    Signs are fixed (the largest loading of each component is positive), so the picture does not flip from
    one run or platform to the next.  Fewer than two rows or dimensions give zero columns where undefined.
    """
    x = np.asarray(vectors, dtype=np.float64)
    n = x.shape[0]
    coords, explained = np.zeros((n, 2)), np.zeros(2)
    if n < 2:
        return coords, explained
    x = x - x.mean(axis=0)
    u, s, vt = np.linalg.svd(x, full_matrices=False)  # x = u @ diag(s) @ vt; s descending
    k = min(2, len(s))
    signs = np.sign(vt[np.arange(k), np.argmax(np.abs(vt[:k]), axis=1)])
    signs[signs == 0] = 1.0
    coords[:, :k] = u[:, :k] * s[:k] * signs
    total = float((s ** 2).sum())
    if total > 0:
        explained[:k] = s[:k] ** 2 / total
    return coords, explained


def tsne_2d(vectors: np.ndarray, seed: int = 0) -> np.ndarray:
    """t-SNE (scikit-learn) of the rows of ``vectors`` (n, d) by cosine distance: (n, 2) float64.

    The perplexity is scaled to the few points plotted (``(n - 1) / 3``, at most 30): t-SNE requires it to be
    below the number of points.
    """
    try:
        from sklearn.manifold import TSNE
    except ImportError:
        raise PlotDependencyError("t-SNE needs scikit-learn, which is not installed: pip install scikit-learn "
                                  "(or use the PCA projection, method 'pca')") from None
    x = np.asarray(vectors, dtype=np.float64)
    n = x.shape[0]
    if n < 3:  # nothing for t-SNE to arrange
        return pca_2d(x)[0]
    perplexity = float(min(30.0, max(1.0, (n - 1) / 3)))
    tsne = TSNE(n_components=2, perplexity=perplexity, metric="cosine", init="pca", random_state=seed)
    return np.asarray(tsne.fit_transform(x), dtype=np.float64)


# -- words and neighbours -----------------------------------------------------------------------------
Links = list[tuple[int, int]]  # (query row, neighbour row) pairs of the plotted words


def neighbour_groups(kv: Any, words: Sequence[str], neighbours: int) -> tuple[list[str], list[int], Links]:
    """The words to plot: each query word and its ``neighbours`` nearest neighbours.

    Returns (plotted words, the group (query index) of each, links (query row, neighbour row)).  A word is
    plotted once, in the group of the first query it belongs to (a query word always in its own group); a
    neighbour shared by several queries is linked to each of them.
    """
    rows: dict[str, int] = {}
    plotted: list[str] = []
    group: list[int] = []
    for g, word in enumerate(words):
        rows[word] = len(plotted)
        plotted.append(word)
        group.append(g)
    links: Links = []
    for g, word in enumerate(words):
        for other, _ in kv.most_similar(word, topn=neighbours) if neighbours else ():
            if other not in rows:
                rows[other] = len(plotted)
                plotted.append(other)
                group.append(g)
            links.append((rows[word], rows[other]))
    return plotted, group, links


# English function words (modern and King James) that rank 100-300 in typical corpora: never picked by
# default_words.  Other languages just get the frequency and length rules.
_FUNCTION_WORDS = frozenset("""
about above according across after again against all almost along also although always among and another any anyone
anything are around away because been before behind being below beneath beside between both but came can
cannot come could did does doing done down during each either else even ever every few for forth from further
get gets getting give given goes going gone got had has hast hath have having her here hers herself him
himself his how however into its itself just know last least less like made make many may might mine more
most much must myself near neither never next none nor not nothing now off often once one only onto other
others our ours ourselves out over own per put rather said same say says see seen shall shalt she should
since some something still such take than that thee their theirs them themselves then there thereof
therefore these they thine thing things this those thou though thus thy till too toward towards two under
unto until upon very was were what whatever when whence where whereas wherefore whether which while who
whom whose why will with within without would yea yet you your yours yourself
""".split())


def default_words(kv: Any, n: int = 8, skip: int = 100, pool: int = 300) -> list[str]:
    """``n`` words worth plotting when none are given: frequent content words, far from one another.

    Candidates are the words ranked ``skip`` to ``pool`` by frequency (the most frequent are mostly function
    words), alphabetic, at least four letters long and not an English function word; they are taken
    greedily in frequency order, skipping any whose cosine with a word already taken exceeds 0.35, so that
    the neighbourhoods do not overlap.  Small vocabularies start lower (at a quarter of the vocabulary) and
    relax the rules rather than fail.
    """
    words = kv.index_to_key
    start = min(skip, len(words) // 4)
    candidates = [i for i in range(start, min(pool, len(words)))]
    content = [i for i in candidates if words[i].isalpha() and len(words[i]) >= 4
               and words[i].lower() not in _FUNCTION_WORDS] or candidates
    normed = kv.get_normed_vectors()
    chosen: list[int] = []
    for i in content:
        if all(float(normed[i] @ normed[j]) <= 0.35 for j in chosen):
            chosen.append(i)
        if len(chosen) == n:
            break
    for i in content:  # too few far apart: fill up with the most frequent remaining ones
        if len(chosen) >= n:
            break
        if i not in chosen:
            chosen.append(i)
    return [words[i] for i in chosen]


def _colours(k: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if k <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(k)]


def _overlap(a: Any, b: Any) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


def _place_labels(fig: Any, ax: Any, xy: np.ndarray, labels: list[dict[str, Any]]) -> None:
    """Label each point, trying the offsets of ``_OFFSETS`` and keeping the first that overlaps nothing.

    Obstacles are the labels already placed and every point's marker; a label running off the axes counts
    as overlap too.  Where every offset collides the least colliding one is used.  Query words are placed
    first so that they get the best spots.
    """
    from matplotlib import patheffects
    from matplotlib.transforms import Bbox

    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    points = ax.transData.transform(xy)                                  # (n, 2) display pixels
    r = 3.0 * fig.dpi / 72                                               # marker half-size, pixels
    obstacles = [Bbox.from_extents(px - r, py - r, px + r, py + r) for px, py in points]
    stroke = [patheffects.withStroke(linewidth=2.2, foreground="white")]  # readable over lines and dots
    for spec in sorted(labels, key=lambda s: not s["query"]):
        i = spec["row"]
        best = None
        for dx, dy, ha, va in _OFFSETS:
            far = abs(dx) > 6 or abs(dy) > 6
            text = ax.annotate(_literal(spec["text"]), xy[i], xytext=(dx, dy), textcoords="offset points",
                               ha=ha, va=va, fontsize=spec["size"], fontweight=spec["weight"], color=spec["colour"],
                               path_effects=stroke, zorder=4,
                               arrowprops=dict(arrowstyle="-", lw=0.4, color=spec["colour"], alpha=0.6,
                                               shrinkA=0, shrinkB=2) if far else None)
            box = text.get_window_extent(renderer)
            own = obstacles[i]
            cost = sum(_overlap(box, o) for o in obstacles if o is not own)
            outside = box.width * box.height - _overlap(box, frame)
            cost += 2 * outside + (0.5 if far else 0.0)                 # near and inside preferred
            if best is None or cost < best[0]:
                if best is not None:
                    best[1].remove()
                best = (cost, text, box)
            else:
                text.remove()
            if cost == 0:
                break
        obstacles.append(best[2])


def plot_words(kv: Any, words: Sequence[str], path: str | os.PathLike, neighbours: int = 5,
               method: str = "pca", title: str | None = None, seed: int = 0) -> list[str]:
    """Draw ``words`` and their ``neighbours`` nearest neighbours in 2-D and write the picture to ``path``.

    See :func:`words_figure` for the picture and the parameters.  Every word is checked, and so are the file
    name's extension and matplotlib, before any work; the file is written atomically.

    Returns
    -------
    The plotted words, in plotting order (the query words first).
    """
    image_format(path)
    with _missing_glyphs():
        fig, plotted = words_figure(kv, words, neighbours=neighbours, method=method, title=title, seed=seed)
        _save(fig, path)
    return plotted


def words_figure(kv: Any, words: Sequence[str], neighbours: int = 5, method: str = "pca",
                 title: str | None = None, seed: int = 0) -> tuple[Any, list[str]]:
    """Draw ``words`` and their ``neighbours`` nearest neighbours in 2-D and write the picture to ``path``.

    Each query word (bold, large dot) and its neighbours share one colour, with thin lines from the query to
    each neighbour.  ``method`` "pca" projects the centred unit vectors of the plotted words on their first
    two principal components (numpy SVD; axis labels say how much of the variance each holds); "tsne" uses
    scikit-learn's t-SNE by cosine distance (it keeps neighbourhoods, not distances).  Labels are placed
    beside their points where they overlap no other label or point (:func:`_place_labels`).

    Parameters
    ----------
    kv : a :class:`w2v.KeyedVectors`.
    words : the query words; every one must be in the vocabulary (:class:`w2v.UnknownWordError`, with
        suggested spellings, before anything is drawn).
    neighbours : how many nearest neighbours of each word to add (0: the words alone).

    Returns
    -------
    (a matplotlib ``Figure`` on an Agg canvas, to save or adjust; the plotted words, in plotting order, the
    query words first).
    """
    words = list(dict.fromkeys(words))  # a word given twice is plotted once
    if not words:
        raise ValueError("plot_words needs at least one word")
    if method not in METHODS:
        raise ValueError(f"'method' must be one of {', '.join(map(repr, METHODS))}; got {method!r}")
    if not isinstance(neighbours, (int, np.integer)) or isinstance(neighbours, bool) or neighbours < 0:
        raise ValueError(f"'neighbours' must be an int >= 0; got {neighbours!r}")
    if len(words) * (neighbours + 1) > MAX_POINTS:
        raise ConfigError(f"{len(words)} words with {neighbours} neighbours each are {len(words) * (neighbours + 1)} "
                          f"points: at most {MAX_POINTS} make a readable picture (and the labels' layout grows "
                          "with the square of their number); give fewer words or neighbours")
    for word in words:  # every word checked before any work
        kv.get_index(word)
    _matplotlib()
    plotted, group, links = neighbour_groups(kv, words, int(neighbours))
    unit = kv.get_normed_vectors()[[kv.get_index(w) for w in plotted]]   # (n, d)
    if method == "pca":
        xy, explained = pca_2d(unit)
        axis_names = [f"component {k + 1} ({100 * explained[k]:.0f}% of the variance)" for k in range(2)]
    else:
        xy = tsne_2d(unit, seed=seed)
        axis_names = ["t-SNE 1", "t-SNE 2"]

    fig, ax = _new_figure((8.0, 6.5))
    colours = _colours(len(words))
    for a, b in links:
        c = colours[group[a]]
        ax.plot(xy[[a, b], 0], xy[[a, b], 1], color=c, lw=0.7, alpha=0.35, zorder=1)
    query = np.zeros(len(plotted), dtype=bool)
    query[:len(words)] = True
    point_colours = [colours[g] for g in group]
    ax.scatter(xy[~query, 0], xy[~query, 1], s=16, c=[point_colours[i] for i in np.flatnonzero(~query)],
               zorder=2, linewidths=0)
    ax.scatter(xy[query, 0], xy[query, 1], s=70, c=[point_colours[i] for i in np.flatnonzero(query)],
               edgecolors="black", linewidths=0.8, zorder=3)

    span = np.ptp(xy, axis=0) if len(xy) > 1 else np.zeros(2)
    span = np.where(span > 0, span, 1.0)
    lo, hi = xy.min(axis=0) - 0.08 * span, xy.max(axis=0) + 0.08 * span
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel(axis_names[0], fontsize=8, color="0.35")
    ax.set_ylabel(axis_names[1], fontsize=8, color="0.35")
    for spine in ax.spines.values():
        spine.set_color("0.8")
    if title is None:
        what = "PCA of the unit vectors" if method == "pca" else "t-SNE, cosine distance"
        title = (f"{len(words)} word{'s' if len(words) != 1 else ''} and their {neighbours} nearest "
                 f"neighbours ({what})" if neighbours else f"{len(words)} words ({what})")
    ax.set_title(_literal(title), fontsize=10)
    fig.tight_layout()  # fixes the axes' place before the labels are measured

    labels = [{"row": i, "text": w, "query": bool(query[i]), "colour": point_colours[i],
               "size": _QUERY_PT if query[i] else _LABEL_PT, "weight": "bold" if query[i] else "normal"}
              for i, w in enumerate(plotted)]
    _place_labels(fig, ax, xy, labels)
    return fig, plotted


# -- training loss ------------------------------------------------------------------------------------
def _value_label_side(y: np.ndarray, k: int) -> tuple[float, float, str, str]:
    """Where the value label of point ``k`` of the curve ``y`` goes (offset points, alignments): on the side
    the line does not pass, so the curve never crosses its labels."""
    up_before = k > 0 and y[k - 1] > y[k]                 # the line comes down into this point
    up_after = k + 1 < len(y) and y[k + 1] > y[k]         # the line goes up out of it
    down_before = k > 0 and y[k - 1] < y[k]
    down_after = k + 1 < len(y) and y[k + 1] < y[k]
    if (up_before or up_after) and not (down_before or down_after):   # a valley (or an end below): below
        return 0, -7, "center", "top"
    if (down_before or down_after) and not (up_before or up_after):   # a peak (or an end above): above
        return 0, 7, "center", "bottom"
    if up_before and down_after:                                      # falling: upper right is free
        return 4, 5, "left", "bottom"
    if down_before and up_after:                                      # rising: lower right is free
        return 4, -5, "left", "top"
    return 0, 7, "center", "bottom"                                   # flat


def plot_loss(training_log: Sequence[dict[str, Any]], path: str | os.PathLike, title: str | None = None) -> None:
    """Draw the mean training loss of each epoch (and the learning rate, on a second axis) to ``path``.

    ``training_log`` is :attr:`w2v.Word2Vec.training_log`: one dict per epoch with "epoch" and "loss", and
    "alpha_start"/"alpha_end" for the learning rate (drawn as it decayed across each epoch; left out when
    absent).  Written atomically.
    """
    log = list(training_log)
    if not log:
        raise ValueError("the training log is empty: there is no loss to plot")
    for k, entry in enumerate(log):
        if not isinstance(entry, dict) or "epoch" not in entry or "loss" not in entry:
            raise ValueError(f"training log entry {k} must be a dict with 'epoch' and 'loss'; got {entry!r}")
    image_format(path)
    with _missing_glyphs():  # (the title is drawn from the layout on)
        _save(_loss_figure(log, title), path)


def _loss_figure(log: list[dict[str, Any]], title: str | None) -> Any:
    epochs = np.array([float(e["epoch"]) for e in log])
    loss = np.array([float(e["loss"]) for e in log])

    fig, ax = _new_figure((7.0, 4.0))
    loss_colour, lr_colour = "#1f77b4", "#d62728"
    ax.plot(epochs, loss, "-o", color=loss_colour, lw=1.8, ms=5, label="loss (mean per training example)",
            zorder=3)
    if len(log) <= 30:
        for k, (x, y) in enumerate(zip(epochs, loss)):
            dx, dy, ha, va = _value_label_side(loss, k)
            ax.annotate(f"{y:.3f}", (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,
                        fontsize=7.5, color=loss_colour)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss", color=loss_colour)
    ax.tick_params(axis="y", colors=loss_colour)
    ax.grid(True, color="0.9", lw=0.6)
    ax.set_axisbelow(True)
    low, high = float(loss.min()), float(loss.max())
    pad = 0.15 * (high - low) if high > low else 0.05 * max(abs(high), 1e-3)
    ax.set_ylim(low - 2 * pad, high + 2 * pad)  # room for the value labels
    step = max(1, math.ceil(len(log) / 15))
    ax.set_xticks(np.concatenate([[epochs[0] - 1], epochs[::step]]))  # epoch 0: before training
    handles = ax.get_lines()[:1]

    if all("alpha_start" in e and "alpha_end" in e for e in log):
        ax2 = ax.twinx()
        xs = np.ravel([[x - 1, x] for x in epochs])                    # each epoch spans (epoch-1, epoch]
        ys = np.ravel([[float(e["alpha_start"]), float(e["alpha_end"])] for e in log])
        handles += ax2.plot(xs, ys, "--", color=lr_colour, lw=1.2, label="learning rate", zorder=2)
        ax2.set_ylabel("learning rate", color=lr_colour)
        ax2.tick_params(axis="y", colors=lr_colour)
        ax2.set_ylim(0, max(float(ys.max()), 1e-12) * 1.1)
        ax.set_xlim(float(epochs.min()) - 1, float(epochs.max()) + 0.3)
    ax.legend(handles=handles, loc="upper right", fontsize=8, frameon=False)
    ax.set_title(_literal(title or "Training loss per epoch"), fontsize=10)
    fig.tight_layout()
    return fig


def load_training_log(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The training log stored in a native model file (written by ``w2v train`` / ``Word2Vec.save``).

    Raises :class:`w2v.ModelFileError` when the file holds none (a word2vec C file, a vectors file, a model
    saved without training), saying what the file is.
    """
    path = os.fspath(path)
    with formats.open_file(path) as f:
        head = f.read(64)
    if formats.sniff(head) != "native":
        raise ModelFileError(f"{path}: holds no training log: it is {formats.describe_foreign(head).split(';')[0]}"
                             f"; the loss is stored only in a model file written by 'w2v train'")
    header = formats.native_info(path)["header"]
    log = header.get("training_log")
    if not log:
        kind = header.get("kind")
        raise ModelFileError(f"{path}: holds no training log (a native w2v file of kind {kind!r}); the loss "
                             f"is stored only in a model file written by 'w2v train'")
    if not isinstance(log, list) or not all(isinstance(e, dict) and "epoch" in e and "loss" in e for e in log):
        raise ModelFileError(f"{path}: corrupt training log in the header (expected a list of per-epoch "
                             f"entries with 'epoch' and 'loss')")
    return log
