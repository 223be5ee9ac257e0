"""Typed configuration for every pipeline stage.

One dataclass per stage; `RunConfig` bundles them and is written, resolved,
into every run folder (`config.json`). A user config file (JSON) may give
any subset of fields; unknown keys are an error, so typos do not pass
silently. This module is device-safe: no torch import.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


SPLITS = ("train", "val", "test")


class ConfigError(ValueError):
    """A configuration value or file is invalid."""


@dataclass
class FeatureConfig:
    """Frontend parameters; the math is documented in kwsdk.frontend.features."""

    preset: str = "default"
    sample_rate: int = 16000
    window_size: int = 480  # samples analysed per frame (30 ms)
    hop_size: int = 320  # new samples per frame (20 ms)
    nfft: int = 512
    window: str = "hann"  # "hann" (periodic) or "hamming" (symmetric, ELL)
    spectrum: str = "power"  # "power" |X|^2 or "magnitude" |X|
    n_mels: int = 40
    fmin: float = 20.0
    fmax: float = 8000.0
    mel_style: str = "hz"  # "hz": triangles in Hz; "ell": ELL's floored bin edges
    log_offset: float = 1e-5  # log(mel + log_offset)
    n_mfcc: int = 0  # 0: log-mel output; >0: orthonormal DCT-II, first n_mfcc
    # "float": the float reference; "integer": the device's bit-exact integer
    # frontend (kwsdk.frontend.integer), to train on what the device computes.
    frontend: str = "float"

    @property
    def n_features(self) -> int:
        return self.n_mfcc if self.n_mfcc > 0 else self.n_mels

    @property
    def frames_per_second(self) -> float:
        return self.sample_rate / self.hop_size


FEATURE_PRESETS: dict[str, dict[str, Any]] = {
    # Chosen for accuracy per device cost: 30 ms Hann window, 20 ms hop,
    # 40 mel bands in power; the usual KWS front end (TFLM, Hello Edge).
    "default": {},
    # The ELL tutorial's featurizer, for users migrating from it.
    "ell": dict(
        window_size=512, hop_size=512, nfft=512, window="hamming",
        spectrum="magnitude", n_mels=80, fmin=0.0, fmax=8000.0,
        mel_style="ell", log_offset=1.0, n_mfcc=0,
    ),
}


def feature_preset(name: str) -> FeatureConfig:
    if name not in FEATURE_PRESETS:
        raise ConfigError(f"unknown feature preset {name!r}; choose from {sorted(FEATURE_PRESETS)}")
    return FeatureConfig(preset=name, **FEATURE_PRESETS[name])


@dataclass
class VadConfig:
    """Voice activity detector (kwsdk.frontend.vad). Ratios and the level
    threshold are stated in ELL's magnitude terms (its tutorial defaults);
    on a power-spectrum frontend they are squared so that the same settings
    mean the same loudness."""

    tau_up: float = 1.5  # s: how slowly the noise floor rises
    tau_down: float = 0.09  # s: how quickly it falls
    large_input: float = 4.0  # level above large_input * floor rises slower still...
    gain_att: float = 0.01  # ...by this factor
    threshold_up: float = 3.5  # speech starts: level > threshold_up * floor
    threshold_down: float = 0.9  # speech ends: level < threshold_down * floor
    level_threshold: float = 0.02  # and speech needs at least this level
    hysteresis: float = 0.0  # s: hang-over; the output cannot drop sooner after the start condition (0: ELL)


@dataclass
class DataConfig:
    keywords: list[str] = field(
        default_factory=lambda: ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]
    )
    val_percent: float = 10.0
    test_percent: float = 10.0
    # Prefixed to the speaker id before hashing; "" gives Google's exact which_set.
    split_salt: str = "kwsdk"
    max_per_class: int = 0  # 0: no limit
    bad_list: str = ""  # file of relative paths to skip (read only)
    silence_clips_from_noise: int = 0  # extra 1 s noise cuts per split when no _silence_ folder
    # Speech Commands-layout folders whose clips are used for training only
    # (never validation or test): e.g. `kwsdk synth` words as extra negatives.
    extra_dirs: list[str] = field(default_factory=list)
    # Folders of real speech that holds no keyword (any layout; kwsdk.negatives),
    # split by speaker: the train split goes into the training streams
    # (StreamConfig.p_negative), train and val calibrate the threshold.
    negatives_dirs: list[str] = field(default_factory=list)


@dataclass
class AugmentConfig:
    noise_prob: float = 0.9
    snr_db_min: float = 0.0
    snr_db_max: float = 25.0
    speed_min: float = 0.9  # speed perturbation factor range (tempo and pitch)
    speed_max: float = 1.1
    gain_db_min: float = -20.0
    gain_db_max: float = 6.0
    # SpecAugment-style masks: on by default since they raised test accuracy
    # on speech_commands_dev from 87.4% to 89.1% (same recipe otherwise).
    time_mask_max: int = 8  # frames per time mask; 0: off
    time_masks: int = 2  # time masks per training sequence
    freq_mask_max: int = 6  # mel bands; 0: off
    # Room and microphone variety per utterance (kwsdk.augment): simulated
    # room reverberation and a random seven-band EQ, each with this probability.
    reverb_prob: float = 0.0
    eq_prob: float = 0.0


@dataclass
class StreamConfig:
    """Synthetic continuous streams for streaming training and evaluation."""

    seconds: float = 8.0  # training sequence length
    gap_min: float = 0.2  # noise gap between utterances (s)
    gap_max: float = 1.5
    p_keyword: float = 0.5  # per utterance slot; rest unknown / silence
    p_unknown: float = 0.3
    # Per-frame targets: keyword label on [onset + target_start*len, offset + target_tail]
    target_start: float = 0.5
    target_tail: float = 0.1
    digital_silence_prob: float = 0.05
    # With negatives (DataConfig.negatives_dirs): the share of the slots without
    # a keyword that play a crop of real speech, labelled `_unknown_` throughout.
    p_negative: float = 0.5
    negative_min_s: float = 1.0
    negative_max_s: float = 3.0


@dataclass
class ModelConfig:
    cell: str = "gru"  # "gru" or "lstm"
    hidden: int = 128
    layers: int = 2
    dropout: float = 0.1


# Model presets: "default" is the accuracy model (2 x 128 GRU); "small"
# (2 x 96 GRU) keeps the whole Cortex-M4 pipeline under 8 M instructions per
# second of audio; "tiny" (1 x 48 GRU) fits a Cortex-M with 32 KB of flash and
# 8 KB of RAM for the whole device library at -Os on every core (at -O2 on
# M4/M7 only; measured by kwsdk report, see README).
# The tiny model trains without the masks (on speech_commands_dev they cost
# a 2 x 28 GRU 4 points), for 80 epochs (at the default 36 it is still
# learning: 1 x 40, 73.4% -> 83.1%; it trains about 2.5x faster per epoch) and
# at a peak learning rate of 0.01 (at 0.003 it spends its first 10 epochs
# predicting silence). Its accuracy depends much on the seed: 1 x 48, 86.0%,
# 80.5% and 85.3% (seeds 0, 1, 2); 1 x 40, 86.2% and 76.7% (seeds 0, 1).
# Distilled from the default model (--teacher) the 1 x 48 gives 85.8%, 83.4%,
# 86.9% and 86.7% (seeds 0-3, float).
MODEL_PRESETS = {"default": {"model": {}, "augment": {}, "train": {}},
                 "small": {"model": {"hidden": 96, "layers": 2}, "augment": {}, "train": {}},
                 "tiny": {"model": {"hidden": 48, "layers": 1}, "augment": {"time_mask_max": 0, "freq_mask_max": 0},
                          "train": {"epochs": 80, "lr": 0.01}},
                 # One wake phrase on a microcontroller: the whole Cortex-M4
                 # pipeline in 3.4 M instructions per second of audio and 61 KB
                 # of flash at -O2 (1 x 96 GRU).
                 "wake": {"model": {"hidden": 96, "layers": 1}, "augment": {}, "train": {"epochs": 60, "lr": 0.005}}}


@dataclass
class TrainConfig:
    epochs: int = 36
    steps_per_epoch: int = 50
    batch_size: int = 32
    optimizer: str = "adamw"  # "adamw", "adam", "rmsprop", "sgd"
    lr: float = 3e-3
    weight_decay: float = 1e-4
    schedule: str = "onecycle"  # "onecycle", "cosine", "constant"
    grad_clip: float = 1.0
    # Exponential moving average of the weights, the model that is validated
    # and kept; 0 disables it.
    ema_decay: float = 0.995
    label_smoothing: float = 0.05
    # Loss weight of `_silence_` frames relative to word frames: most frames
    # of a stream are silence, and they are the easy ones.
    silence_weight: float = 0.3
    seed: int = 0
    # Torch threads per process; 0: the cores but one (which makes the batches).
    threads: int = 0
    # After training: pick the detection threshold on a validation stream.
    calibrate_minutes: float = 20.0
    target_fa_per_hour: float = 1.0
    # Distillation: a trained run folder whose per-frame posteriors (at
    # distill_temperature) the model also learns, with this share of the loss.
    teacher: str = ""
    distill_weight: float = 0.5
    distill_temperature: float = 2.0


@dataclass
class DetectorConfig:
    """The detection rule shared by `kwsdk eval --stream` and the C detector.

    Spelled out in kwsdk.detector.
    """

    smooth_frames: int = 10
    threshold: float = 0.6
    thresholds: dict[str, float] = field(default_factory=dict)  # per-keyword overrides
    refractory_s: float = 1.0
    # Clip decisions only: a clip whose best non-silence smoothed posterior
    # is below this is `_silence_`. Training calibrates it on the validation clips.
    clip_floor: float = 0.4


@dataclass
class RunConfig:
    features: FeatureConfig = field(default_factory=FeatureConfig)
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    stream: StreamConfig = field(default_factory=StreamConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    vad: VadConfig = field(default_factory=VadConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "config") -> "RunConfig":
        cfg = cls()
        for key, value in d.items():
            if key not in {f.name for f in dataclasses.fields(cls)}:
                raise ConfigError(f"{source}: unknown section {key!r}")
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: section {key!r} must be an object")
            section = getattr(cfg, key)
            if key == "features" and "preset" in value:
                section = feature_preset(value["preset"])
            setattr(cfg, key, _update(section, value, f"{source}: {key}"))
        return cfg

    def save(self, path: Path) -> None:
        from kwsdk.fileio import atomic_write_text

        atomic_write_text(Path(path), json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "RunConfig":
        path = Path(path)
        try:
            d = json.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such config file") from None
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path}: not valid JSON ({e})") from None
        if not isinstance(d, dict):
            raise ConfigError(f"{path}: top level must be an object")
        return cls.from_dict(d, source=str(path))


def _update(obj: Any, values: dict[str, Any], where: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(obj)}
    changes = {}
    for k, v in values.items():
        if k not in fields:
            raise ConfigError(f"{where}: unknown field {k!r}")
        current = getattr(obj, k)
        if isinstance(current, bool) != isinstance(v, bool) or (
            isinstance(current, (int, float)) and not isinstance(v, (int, float))
        ) or (isinstance(current, (str, list, dict)) and not isinstance(v, type(current))):
            raise ConfigError(f"{where}.{k}: expected {type(current).__name__}, got {v!r}")
        if isinstance(current, float):
            v = float(v)
        changes[k] = v
    return dataclasses.replace(obj, **changes)


# `kwsdk train` options that set one config field: option dest -> (section, field).
TRAIN_OVERRIDES = {"max_per_class": ("data", "max_per_class"), "bad_list": ("data", "bad_list"),
                   "epochs": ("train", "epochs"), "seed": ("train", "seed"), "threads": ("train", "threads"),
                   "cell": ("model", "cell"), "hidden": ("model", "hidden"), "layers": ("model", "layers"),
                   "teacher": ("train", "teacher"), "extra_data": ("data", "extra_dirs"),
                   "negatives": ("data", "negatives_dirs")}
PATH_OVERRIDES = {"teacher", "extra_data", "negatives"}  # recorded absolute, so a run folder works from anywhere


def training_config(config_file: str | None = None, feature_preset_name: str | None = None,
                    model_preset: str | None = None, frontend: str | None = None, keywords: str | None = None,
                    overrides: dict[str, Any] | None = None) -> RunConfig:
    """The resolved config of a training run, in this order: the config file
    (or the defaults), the feature preset, the model preset (its model, and
    its augmentation and training fields over the file's), the frontend, the
    comma-separated keywords, then single fields (TRAIN_OVERRIDES; None:
    not given)."""
    cfg = RunConfig.load(config_file) if config_file else RunConfig()
    if feature_preset_name:
        cfg.features = feature_preset(feature_preset_name)
    if model_preset:
        if model_preset not in MODEL_PRESETS:
            raise ConfigError(f"unknown model preset {model_preset!r}; choose from {sorted(MODEL_PRESETS)}")
        preset = MODEL_PRESETS[model_preset]
        cfg.model = ModelConfig(**preset["model"])
        cfg.augment = dataclasses.replace(cfg.augment, **preset["augment"])
        cfg.train = dataclasses.replace(cfg.train, **preset["train"])
    if frontend:
        cfg.features.frontend = frontend
    if keywords:
        cfg.data.keywords = [k.strip() for k in keywords.split(",") if k.strip()]
    for name, value in (overrides or {}).items():
        if value is None:
            continue
        if name in PATH_OVERRIDES:
            value = str(Path(value).resolve()) if isinstance(value, str) else [str(Path(v).resolve()) for v in value]
        section, fld = TRAIN_OVERRIDES[name]
        setattr(getattr(cfg, section), fld, value)
    return cfg
