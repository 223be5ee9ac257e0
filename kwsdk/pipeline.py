"""The device pipeline's integer reference: frontend -> VAD -> model ->
detector, frame by frame, exactly as the generated `kws_process` runs it.

Per frame t:
1. features and mel energies from the integer frontend; vad_t from the VAD;
2. q15 posteriors from one model step;
3. gate: with vad_gate, an event may fire only if the VAD was active in one
   of the last K (smoothing) frames; the detector steps with it;
4. with vad_reset, the model state is zeroed after a 1 -> 0 VAD transition
   (the end of speech), as the ELL tutorial does.
Device-safe: numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kwsdk.config import DetectorConfig, FeatureConfig, VadConfig
from kwsdk.detector import IntDetector, IntEvent
from kwsdk.frontend.integer import IntegerFrontend
from kwsdk.frontend.vad import IntVad
from kwsdk.qmodel.model import IntModel, QuantModel


@dataclass
class PipelineOptions:
    vad_reset: bool = False
    vad_gate: bool = False


@dataclass
class FrameTrace:
    """Per-frame outputs of a run (what the C test driver writes)."""

    features: np.ndarray  # int16 (T, F)
    posteriors: np.ndarray  # int16 (T, C), q15
    state: np.ndarray  # int16 (T, S): h of every layer, then c (LSTM)
    vad: np.ndarray  # int8 (T,)
    events: list[IntEvent]


class IntPipeline:
    """`q`: a QuantModel, run by the integer reference IntModel, or any model
    with IntModel's interface (categories, cell, reset(batch), step((1, F))
    -> (1, C) q15, state), e.g. a TFLite runtime (kwsdk.tflite.runtime)."""

    def __init__(self, fcfg: FeatureConfig, vcfg: VadConfig, q, dcfg: DetectorConfig,
                 options: PipelineOptions | None = None):
        self.fcfg = fcfg
        self.frontend = IntegerFrontend(fcfg)
        self.vad = IntVad(vcfg, fcfg)
        self.model = IntModel(q, 1) if isinstance(q, QuantModel) else q
        self.cell, self.n_classes = q.cell, len(q.categories)
        self.detector = IntDetector(q.categories, dcfg, fcfg.hop_size, fcfg.sample_rate)
        self.options = options or PipelineOptions()
        self.reset()

    def reset(self) -> None:
        self.vad.reset()
        self.model.reset(1)
        self.detector.reset()
        self.prev_vad = 0
        self.since_vad = self.detector.k  # frames since the VAD was last active, capped at K
        self.pending = self._no_history()  # samples feed() holds for the next frame

    def state_vector(self) -> np.ndarray:
        h = [s[0][0] for s in self.model.state]
        c = [s[1][0] for s in self.model.state] if self.cell == "lstm" else []
        return np.concatenate(h + c).astype(np.int16)

    def run(self, pcm: np.ndarray) -> FrameTrace:
        """All frames of int16 PCM, continuing from the current state (the
        frontend starts afresh: call on whole streams or reset between)."""
        self.pending = self._no_history()
        return self.feed(pcm)

    def _no_history(self) -> np.ndarray:
        """The frontend's window history at the start of a stream: zeros."""
        return np.zeros(self.fcfg.window_size - self.fcfg.hop_size, np.int16)

    def feed(self, pcm: np.ndarray) -> FrameTrace:
        """Streaming: any number of samples in, the frames they complete out
        (the same frames as one run() over the whole stream)."""
        c = self.fcfg
        x = np.concatenate([self.pending, np.asarray(pcm, np.int16)])
        t = max(0, (len(x) - (c.window_size - c.hop_size)) // c.hop_size)
        frames = np.lib.stride_tricks.sliding_window_view(x, c.window_size)[:: c.hop_size][:t] if t else \
            np.zeros((0, c.window_size), np.int16)
        self.pending = x[t * c.hop_size :]
        return self._frames(self.frontend.frames_int(frames))

    def _frames(self, fr) -> FrameTrace:
        k = self.detector.k
        posts, states, vads, events = [], [], [], []
        for t in range(len(fr.features)):
            v = self.vad.step(fr.mel[t], int(fr.mel_exp[t]))
            p = self.model.step(fr.features[t][None])[0]
            self.since_vad = 0 if v else min(self.since_vad + 1, k)
            ev = self.detector.step(p, gate=not self.options.vad_gate or self.since_vad < k)
            if ev is not None:
                events.append(ev)
            if self.options.vad_reset and self.prev_vad and not v:
                self.model.reset(1)
            self.prev_vad = v
            posts.append(p)
            states.append(self.state_vector())  # after the frame, as the C driver records it
            vads.append(v)
        n_c, n_s = self.n_classes, len(self.state_vector())
        return FrameTrace(fr.features, np.array(posts, np.int16).reshape(-1, n_c),
                          np.array(states, np.int16).reshape(-1, n_s), np.array(vads, np.int8), events)
