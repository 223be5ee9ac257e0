"""Audio frontends: the float reference now; the integer (device) frontend plugs in here."""

from kwsdk.config import FeatureConfig
from kwsdk.frontend.features import Frontend


def make_frontend(cfg: FeatureConfig) -> Frontend:
    """The frontend that training and evaluation use.

    Every frontend offers compute_batch / compute / process / reset with the
    same frame layout, so training on the device's own integer features
    only needs another branch here.
    """
    return Frontend(cfg)
