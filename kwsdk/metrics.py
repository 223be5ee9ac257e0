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
    within [onset, offset + HIT_WINDOW_S]; every other event is a false
    accept. `false_accepts_by_cause` says what each was heard on: a second
    event on a keyword already hit ("repeat"), else the utterance that began
    last before the event, if its window holds the event: another keyword
    ("wrong_keyword", also counted per spoken->detected pair in
    `wrong_keyword_pairs`) or a word that is no keyword ("unknown_word", when
    `truth` lists them); else "no_speech".
    """
    kw = set(keyword_indices(categories))
    spoken = [t for t in truth if t.label in kw]
    hit = [False] * len(spoken)
    causes = dict.fromkeys(("repeat", "wrong_keyword", "unknown_word", "no_speech"), 0)
    pairs: dict[str, int] = {}

    def heard(t, e) -> bool:
        return t.onset / sample_rate <= e.time <= t.offset / sample_rate + HIT_WINDOW_S

    for e in events:
        match = next((i for i, t in enumerate(spoken) if not hit[i] and t.label == e.keyword and heard(t, e)), None)
        if match is not None:
            hit[match] = True
            continue
        near = [t for t in truth if heard(t, e)]
        if any(t.label == e.keyword for t in near):
            causes["repeat"] += 1
        elif not near:
            causes["no_speech"] += 1
        else:
            last = max(near, key=lambda t: t.onset)
            if last.label in kw:
                causes["wrong_keyword"] += 1
                pair = f"{categories[last.label]}->{categories[e.keyword]}"
                pairs[pair] = pairs.get(pair, 0) + 1
            else:
                causes["unknown_word"] += 1
    false = len(events) - sum(hit)
    hours = seconds / 3600.0
    per_kw = {}
    for k in sorted(kw):
        idx = [i for i, t in enumerate(spoken) if t.label == k]
        per_kw[categories[k]] = float(np.mean([hit[i] for i in idx])) if idx else None
    return {
        "recall": float(np.mean(hit)) if spoken else 0.0,
        "false_accepts": false,
        "false_accepts_per_hour": false / hours if hours else 0.0,
        "false_accepts_by_cause": causes,
        "wrong_keyword_pairs": dict(sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))),
        "keywords_spoken": len(spoken),
        "hits": int(sum(hit)),
        "stream_hours": hours,
        "per_keyword_recall": per_kw,
    }
