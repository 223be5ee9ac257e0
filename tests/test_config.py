import json

import pytest

from kwsdk.config import ConfigError, training_config


def test_training_config_layers_file_presets_and_options(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    f = tmp_path / "c.json"
    f.write_text(json.dumps({"model": {"hidden": 200, "cell": "lstm"}, "train": {"epochs": 5, "seed": 4},
                             "augment": {"noise_prob": 0.5}}))
    cfg = training_config(str(f), "ell", "tiny", "integer", " yes, no ,", {"epochs": 3, "negatives": ["talk"],
                                                                            "teacher": None, "layers": None})
    assert cfg.features.preset == "ell" and cfg.features.frontend == "integer"
    # The preset's model replaces the file's; its training and augmentation fields go over the file's.
    assert (cfg.model.cell, cfg.model.hidden, cfg.model.layers) == ("gru", 48, 1)
    assert cfg.train.lr == 0.01 and cfg.train.seed == 4 and cfg.augment.noise_prob == 0.5
    assert cfg.augment.time_mask_max == 0
    assert cfg.train.epochs == 3  # an option over everything
    assert cfg.data.keywords == ["yes", "no"]
    assert cfg.data.negatives_dirs == [str(tmp_path / "talk")]  # absolute: the run works from anywhere
    assert training_config().to_dict() == training_config(overrides={"seed": None}).to_dict()


def test_unknown_model_preset_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown model preset 'huge'"):
        training_config(model_preset="huge")
