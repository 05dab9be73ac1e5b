"""Models: output shapes on 1- and 3-channel 28×28 / 32×32 / 8×8 inputs, size, seeding, save/load."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vision.models import MODELS, ResNet18, build_model, load_model, num_parameters, save_model


@pytest.mark.parametrize("name", ["resnet18", "small_cnn"])
@pytest.mark.parametrize(("channels", "size"), [(1, 28), (3, 28), (1, 32), (3, 32), (1, 8), (3, 8)])
def test_output_shapes(name: str, channels: int, size: int) -> None:
    model = build_model(name, in_channels=channels, num_classes=7, width=16 if name == "resnet18" else 8, seed=0)
    logits = model(torch.randn(2, channels, size, size))
    assert logits.shape == (2, 7) and torch.isfinite(logits).all()


def test_resnet18_width64_parameter_count() -> None:
    # torchvision-style CIFAR ResNet-18 (3×3 stem, no max-pool), 10 classes: 11,173,962 ≈ 11.2M
    assert num_parameters(ResNet18(in_channels=3, num_classes=10, width=64)) == 11_173_962


def test_resnet18_state_dict_names_follow_salun() -> None:
    keys = set(ResNet18(width=8).state_dict())
    assert {"conv1.weight", "bn1.running_mean", "layer2.0.downsample.0.weight", "layer4.1.bn2.bias",
            "fc.weight"} <= keys
    assert not any(k.startswith("layer1.0.downsample.") for k in keys)  # identity shortcut


def test_registry_and_bad_dimensions() -> None:
    assert MODELS.names() == ["resnet18", "small_cnn"]
    with pytest.raises(ValueError, match="valid model names: resnet18, small_cnn"):
        build_model("vgg16", in_channels=3, num_classes=10)
    with pytest.raises(ValueError, match="width must be an int >= 1"):
        build_model("resnet18", in_channels=3, num_classes=10, width=0)
    with pytest.raises(ValueError, match="num_classes must be an int >= 1"):
        build_model("small_cnn", in_channels=1, num_classes=0)


def test_seed_gives_same_weights_and_leaves_global_rng_alone() -> None:
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    a = build_model("small_cnn", in_channels=1, num_classes=10, seed=4)
    assert torch.equal(torch.rand(1), expected)
    b = build_model("small_cnn", in_channels=1, num_classes=10, seed=4)
    c = build_model("small_cnn", in_channels=1, num_classes=10, seed=5)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not torch.equal(a.conv1.weight, c.conv1.weight)
    assert a.spec.width == 32  # the builder's default


def test_save_load_round_trip(tmp_path: Path) -> None:
    model = build_model("resnet18", in_channels=1, num_classes=5, width=8, seed=0)
    model.train()
    model(torch.randn(4, 1, 8, 8))  # move BatchNorm running statistics away from their initial values
    model.eval()
    path = tmp_path / "ckpt" / "model.pt"
    save_model(path, model)
    loaded = load_model(path)
    assert loaded.spec == model.spec
    x = torch.randn(3, 1, 8, 8)
    torch.testing.assert_close(loaded.eval()(x), model(x), rtol=0, atol=0)
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.pt"]  # no temporary left behind


def test_save_and_load_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"build it with vision\.models\.build_model"):
        save_model(tmp_path / "m.pt", ResNet18(width=4))
    with pytest.raises(FileNotFoundError, match="no model checkpoint"):
        load_model(tmp_path / "missing.pt")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a vision model checkpoint"):
        load_model(tmp_path / "other.pt")
