"""A numpy reference of antares's gradient-boosting trainer (src/gbt_train.h).

The same algorithm written again, with the same arithmetic in the same
order wherever it decides a split: float32 binning, the splitmix64 draws,
gradient pairs in double from libm's exp (math.exp, as the C code calls it),
histograms summed in row order (np.bincount adds its weights in input order),
the smaller child summed and the larger one the parent's minus it, prefix
sums by np.cumsum (sequential), the gains G_L^2/(H_L+lambda) +
G_R^2/(H_R+lambda) - G^2/(H+lambda) in the C expression's order, the first
largest candidate in the kernel's order (feature, bins left, missing left
before right) above 1e-6, leaves -G/(H+lambda) x rate in float32.

train(X, y, n_classes, params) takes X as float32 (NaN = missing) in
gbt_train's row order and y as class indices; it returns a Model whose trees
are lists of Node (feature -1 for a leaf) in antares's storage order
(breadth-first, children after their parent) and whose gain is the summed
gain per feature.  margins(model, X) walks them (x < threshold goes left, a
NaN to the default side).
"""

import math
from dataclasses import dataclass, field

import numpy as np

RT_EPS = 1e-6
MIN_HESS = 1e-16
MASK = (1 << 64) - 1


@dataclass
class Node:
    feature: int = -1
    threshold: float = 0.0
    left: int = 0
    right: int = 0
    default_left: int = 0
    leaf: float = 0.0


@dataclass
class Model:
    n_classes: int
    trees: list = field(default_factory=list)
    groups: list = field(default_factory=list)
    gain: np.ndarray = None


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)


def feature_cuts(values, max_bin):
    """The cuts of one feature's non-missing float32 values."""
    v = np.sort(values)
    distinct = np.unique(v)
    if len(distinct) <= max_bin:
        return distinct[1:]
    cuts = []
    m = len(v)
    for i in range(1, max_bin):
        c = v[i * m // max_bin]
        if c > (cuts[-1] if cuts else v[0]):
            cuts.append(c)
    return np.array(cuts, dtype=np.float32)


class Bins:
    def __init__(self, X, max_bin):
        n, d = X.shape
        self.cuts, self.min_value, self.slot = [], [], []
        codes = np.zeros((n, d), dtype=np.int64)
        at = 0
        for f in range(d):
            col = X[:, f]
            present = ~np.isnan(col)
            cuts = feature_cuts(col[present], max_bin) if present.any() else np.array([], np.float32)
            self.cuts.append(cuts)
            self.min_value.append(np.min(col[present]) if present.any() else np.float32(np.nan))
            self.slot.append(at)
            at += len(cuts) + 2
            codes[:, f] = np.where(present, np.searchsorted(cuts, np.where(present, col, 0), side="right"),
                                   len(cuts) + 1)
        self.codes = codes
        self.n_slots = at
        self.slot = np.array(self.slot)


def gradients(margin, y, n_classes, sample):
    """(groups, n, 2) gradient pairs of the sampled rows (others 0)."""
    n, groups = margin.shape
    gh = np.zeros((groups, n, 2))
    for i in sample:
        mg = margin[i]
        if n_classes == 2:
            p = 1.0 / (1.0 + math.exp(-mg[0]))
            h = p * (1.0 - p)
            gh[0, i] = (p - float(y[i]), h if h > MIN_HESS else MIN_HESS)
            continue
        mx = mg[0]
        for k in range(1, groups):
            if mg[k] > mx:
                mx = mg[k]
        s = 0.0
        for k in range(groups):
            s += math.exp(mg[k] - mx)
        for k in range(groups):
            p = math.exp(mg[k] - mx) / s
            h = 2.0 * p * (1.0 - p)
            gh[k, i] = (p - (1.0 if y[i] == k else 0.0), h if h > MIN_HESS else MIN_HESS)
    return gh


def sequential_sum(a):
    return float(np.cumsum(a)[-1]) if len(a) else 0.0


class Work:
    def __init__(self, node, rows, G, H):
        self.node, self.rows, self.G, self.H = node, rows, G, H
        self.hist = None
        self.split = None   # (gain, feature, bins_left, default_left, GL, HL)


class Trainer:
    def __init__(self, X, y, n_classes, params):
        self.p = dict(n_trees=100, max_depth=6, learning_rate=0.3, min_child_weight=1.0, subsample=1.0,
                      colsample_bytree=1.0, reg_lambda=1.0, seed=0, max_bin=256)
        self.p.update(params)
        self.X, self.y, self.K = X, y, n_classes
        self.n, self.d = X.shape
        self.groups = 1 if n_classes == 2 else n_classes
        self.bins = Bins(X, self.p["max_bin"])
        self.rng = SplitMix64(self.p["seed"])

    def hist(self, gh, rows, used):
        b = self.bins
        idx = (b.codes[np.ix_(rows, used)] + b.slot[used]).ravel()
        g = np.repeat(gh[rows, 0], len(used))
        h = np.repeat(gh[rows, 1], len(used))
        return np.stack([np.bincount(idx, g, b.n_slots), np.bincount(idx, h, b.n_slots)], axis=1)

    def find_split(self, w, used):
        lam, mcw = self.p["reg_lambda"], self.p["min_child_weight"]
        # numpy scalars: a division by 0 is inf or NaN, as in C
        G, H = np.float64(w.G), np.float64(w.H)
        best = None
        best_gain = RT_EPS
        with np.errstate(all="ignore"):
            parent = G * G / (H + lam)
            for f in used:
                nc = len(self.bins.cuts[f])
                if np.isnan(self.bins.min_value[f]):
                    continue
                h = w.hist[self.bins.slot[f]:self.bins.slot[f] + nc + 2]
                Gm, Hm = h[nc + 1]
                has_missing = not (Gm == 0 and Hm == 0)
                pG = np.concatenate([[0.0], np.cumsum(h[:nc, 0])])
                pH = np.concatenate([[0.0], np.cumsum(h[:nc, 1])])
                empty = np.concatenate([[False], h[:nc, 1] == 0])
                cands = []
                for default_left in (1, 0):
                    GL = pG + Gm if default_left else pG
                    HL = pH + Hm if default_left else pH
                    GR = G - GL
                    HR = H - HL
                    gain = GL * GL / (HL + lam) + GR * GR / (HR + lam) - parent
                    ok = ~empty & (HL >= mcw) & (HR >= mcw) & np.isfinite(gain)
                    if not default_left:
                        ok &= has_missing
                        ok[0] = False
                    cands.append((np.where(ok, gain, -np.inf), GL, HL))
                # candidate order: s = 0, 1, ...; missing left before missing right
                both = np.stack([cands[0][0], cands[1][0]], axis=1).ravel()
                k = int(np.argmax(both))
                if both[k] > best_gain:
                    s, right = divmod(k, 2)
                    _, GL, HL = cands[right]
                    best_gain = float(both[k])
                    best = (best_gain, f, s, 1 - right, float(GL[s]), float(HL[s]))
        w.split = best

    def goes_left(self, rows, feature, bins_left, default_left):
        c = self.bins.codes[rows, feature]
        nc = len(self.bins.cuts[feature])
        return np.where(c > nc, bool(default_left), c < bins_left)

    def grow(self, gh, sample, used, margin, group, gain):
        p = self.p
        tree = [Node()]
        bins_left = [0]
        root = Work(0, sample, sequential_sum(gh[sample, 0]), sequential_sum(gh[sample, 1]))
        root.hist = self.hist(gh, sample, used)
        self.find_split(root, used)
        cur = [root]
        depth = 0
        while cur:
            nxt = []
            for w in cur:
                if w.split is None or depth >= p["max_depth"]:
                    denom = w.H + p["reg_lambda"]
                    value = np.float32(-w.G / denom * p["learning_rate"]) if denom > 0 else np.float32(0)
                    tree[w.node].leaf = value
                    margin[w.rows, group] += float(value)
                    continue
                g, f, s, dl, GL, HL = w.split
                left = self.goes_left(w.rows, f, s, dl)
                lrows, rrows = w.rows[left], w.rows[~left]
                li, ri = len(tree), len(tree) + 1
                tree += [Node(), Node()]
                bins_left += [0, 0]
                nd = tree[w.node]
                nd.feature, nd.left, nd.right, nd.default_left = f, li, ri, dl
                nd.threshold = self.bins.min_value[f] if s == 0 else self.bins.cuts[f][s - 1]
                bins_left[w.node] = s
                gain[f] += g
                lw = Work(li, lrows, GL, HL)
                rw = Work(ri, rrows, w.G - GL, w.H - HL)
                if depth + 1 < p["max_depth"]:
                    small, big = (lw, rw) if len(lrows) <= len(rrows) else (rw, lw)
                    small.hist = self.hist(gh, small.rows, used)
                    big.hist = w.hist - small.hist
                    self.find_split(lw, used)
                    self.find_split(rw, used)
                nxt += [lw, rw]
            cur = nxt
            depth += 1
        return tree, bins_left

    def walk_bins(self, tree, bins_left, i):
        at = 0
        while tree[at].feature >= 0:
            nd = tree[at]
            left = self.goes_left(np.array([i]), nd.feature, bins_left[at], nd.default_left)[0]
            at = nd.left if left else nd.right
        return at

    def train(self):
        p = self.p
        model = Model(self.K, gain=np.zeros(self.d))
        margin = np.zeros((self.n, self.groups))
        for _ in range(p["n_trees"]):
            if p["subsample"] >= 1.0:
                in_sample = np.ones(self.n, dtype=bool)
            else:
                in_sample = np.array([(self.rng.next() >> 11) * 2.0 ** -53 < p["subsample"]
                                      for _ in range(self.n)])
            sample = np.nonzero(in_sample)[0]
            gh = gradients(margin, self.y, self.K, sample)
            for group in range(self.groups):
                used = self.draw_features()
                tree, bins_left = self.grow(gh[group], sample, used, margin, group, model.gain)
                for i in np.nonzero(~in_sample)[0]:
                    margin[i, group] += float(tree[self.walk_bins(tree, bins_left, i)].leaf)
                model.trees.append(tree)
                model.groups.append(group)
        return model

    def draw_features(self):
        d = self.d
        m = max(1, math.floor(self.p["colsample_bytree"] * d))
        if self.p["colsample_bytree"] >= 1.0 or m >= d:
            return np.arange(d)
        perm = list(range(d))
        for i in range(m):
            j = i + self.rng.next() % (d - i)
            perm[i], perm[j] = perm[j], perm[i]
        return np.array(sorted(perm[:m]))


def train(X, y, n_classes, params):
    """params: antares's gbt_train keys (n_trees, max_depth, ..., lambda as 'lambda')."""
    p = dict(params)
    p.pop("nthread", None)
    if "lambda" in p:
        p["reg_lambda"] = p.pop("lambda")
    return Trainer(np.asarray(X, dtype=np.float32), np.asarray(y), n_classes, p).train()


def margins(model, X):
    X = np.asarray(X, dtype=np.float32)
    groups = 1 if model.n_classes == 2 else model.n_classes
    out = np.zeros((len(X), groups))
    for tree, group in zip(model.trees, model.groups):
        for i, x in enumerate(X):
            at = 0
            while tree[at].feature >= 0:
                nd = tree[at]
                v = x[nd.feature]
                left = bool(nd.default_left) if np.isnan(v) else v < nd.threshold
                at = nd.left if left else nd.right
            out[i, group] += float(tree[at].leaf)
    return out


def proba(model, X):
    m = margins(model, X)
    if model.n_classes == 2:
        p = 1.0 / (1.0 + np.exp(-m[:, 0]))
        return np.column_stack([1.0 - p, p])
    e = np.exp(m - m.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
