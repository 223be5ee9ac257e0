"""Clip and stream metrics (numpy only)."""

from __future__ import annotations

import numpy as np

from kwsdk.detector import Event, keyword_indices

# An event counts as a hit for a spoken keyword when it falls between the
# word's onset and this long after its offset.
HIT_WINDOW_S = 1.0


def clip_metrics(y_true: np.ndarray, y_pred: np.ndarray, categories: list[str]) -> dict:
    n_cls = len(categories)
    cm = np.zeros((n_cls, n_cls), np.int64)
    np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)
    per_class = {c: (float(cm[i, i] / cm[i].sum()) if cm[i].sum() else None)
                 for i, c in enumerate(categories)}
    n = int(cm.sum())
    return {
        "accuracy": float(np.trace(cm) / n) if n else 0.0,
        "n": n,
        "per_class": per_class,
        "counts": {c: int(cm[i].sum()) for i, c in enumerate(categories)},
        "confusion": cm.tolist(),
        "categories": categories,
    }


def score_events(events: list[Event], truth, categories: list[str], sample_rate: int,
                 seconds: float) -> dict:
    """Match events to spoken keywords: recall and false accepts per hour.

    Each spoken keyword can be hit once by an event of the same keyword
    within [onset, offset + HIT_WINDOW_S]; every other event (wrong keyword,
    unknown word, noise, a second event on one word) is a false accept.
    """
    kw = set(keyword_indices(categories))
    spoken = [t for t in truth if t.label in kw]
    hit = [False] * len(spoken)
    false = 0
    for e in events:
        match = None
        for i, t in enumerate(spoken):
            if not hit[i] and t.label == e.keyword and \
                    t.onset / sample_rate <= e.time <= t.offset / sample_rate + HIT_WINDOW_S:
                match = i
                break
        if match is None:
            false += 1
        else:
            hit[match] = True
    hours = seconds / 3600.0
    per_kw = {}
    for k in sorted(kw):
        idx = [i for i, t in enumerate(spoken) if t.label == k]
        per_kw[categories[k]] = float(np.mean([hit[i] for i in idx])) if idx else None
    return {
        "recall": float(np.mean(hit)) if spoken else 0.0,
        "false_accepts": false,
        "false_accepts_per_hour": false / hours if hours else 0.0,
        "keywords_spoken": len(spoken),
        "hits": int(sum(hit)),
        "stream_hours": hours,
        "per_keyword_recall": per_kw,
    }
