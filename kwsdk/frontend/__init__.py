"""Audio frontends: the float reference and the device's integer frontend."""

from kwsdk.config import ConfigError, FeatureConfig
from kwsdk.frontend.features import Frontend


def make_frontend(cfg: FeatureConfig) -> Frontend:
    """The frontend that training and evaluation use (cfg.frontend).

    Both offer compute_batch / compute / process / reset with the same frame
    layout and float features, so training on the device's integer features
    is a configuration choice.
    """
    if cfg.frontend == "float":
        return Frontend(cfg)
    if cfg.frontend == "integer":
        from kwsdk.codegen.cfrontend import HostIntegerFrontend

        return HostIntegerFrontend(cfg)
    raise ConfigError(f"features.frontend: unknown {cfg.frontend!r} (float, integer)")
