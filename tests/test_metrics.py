"""Stream scoring: which events are hits, and what each false accept was heard on."""

import numpy as np

from kwsdk.detector import Event
from kwsdk.metrics import score_events
from kwsdk.streams import Placed

CATS = ["_silence_", "_unknown_", "yes", "no"]
SR = 100  # one sample per 10 ms keeps the times readable


def ev(keyword: str, time: float) -> Event:
    return Event(0, CATS.index(keyword), 0.9, time)


def test_hits_and_false_accepts_by_cause():
    truth = [Placed(2, 100, 150),  # "yes" at 1.0-1.5 s: heard until 2.5 s
             Placed(3, 500, 550),  # "no" at 5.0-5.5 s
             Placed(1, 900, 950),  # another word at 9.0-9.5 s
             Placed(2, 1300, 1350)]  # "yes" at 13 s, never detected
    events = [ev("yes", 1.4),  # hit
              ev("yes", 2.0),  # second event on the same word
              ev("yes", 5.2),  # "no" heard as "yes"
              ev("no", 5.6),  # hit, although a false accept came first
              ev("no", 9.3),  # on the other word
              ev("yes", 11.0)]  # nothing spoken
    r = score_events(events, truth, CATS, SR, 3600.0)
    assert r["hits"] == 2 and r["keywords_spoken"] == 3
    assert np.isclose(r["recall"], 2 / 3)
    assert r["false_accepts_by_cause"] == {"repeat": 1, "wrong_keyword": 1, "unknown_word": 1, "no_speech": 1}
    assert r["false_accepts"] == 4 and r["false_accepts_per_hour"] == 4.0
    assert r["wrong_keyword_pairs"] == {"no->yes": 1}
    assert r["per_keyword_recall"] == {"yes": 0.5, "no": 1.0}


def test_window_edges():
    truth = [Placed(2, 100, 150)]
    assert score_events([ev("yes", 1.0)], truth, CATS, SR, 60.0)["hits"] == 1  # at the onset
    assert score_events([ev("yes", 2.5)], truth, CATS, SR, 60.0)["hits"] == 1  # offset + 1 s
    late = score_events([ev("yes", 2.51)], truth, CATS, SR, 60.0)
    assert late["hits"] == 0 and late["false_accepts_by_cause"]["no_speech"] == 1


def test_false_accept_blamed_on_the_latest_word():
    truth = [Placed(3, 500, 550),  # "no" at 5.0-5.5 s: heard until 6.5 s
             Placed(1, 600, 650)]  # another word at 6.0-6.5 s
    r = score_events([ev("yes", 6.4)], truth, CATS, SR, 60.0)
    assert r["false_accepts_by_cause"]["unknown_word"] == 1 and r["wrong_keyword_pairs"] == {}
    r = score_events([ev("yes", 5.9)], truth, CATS, SR, 60.0)  # before the other word began
    assert r["wrong_keyword_pairs"] == {"no->yes": 1}
