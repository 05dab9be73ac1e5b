"""Image classifiers for the unlearning benchmarks: a CIFAR-style ResNet-18 and a small CNN.

Models take normalised images ``(B, C, H, W)`` and return logits ``(B, K)``. Builders are registered
in :data:`MODELS`; :func:`build_model` records a :class:`ModelSpec` on the model so :func:`save_model`
and :func:`load_model` can round-trip it (``torch.save`` / ``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import inspect
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from ofmu_theory.io import atomic_write_with
from ofmu_theory.registry import Registry

#: Model builders by name; each is called as ``builder(in_channels=..., num_classes=..., width=...)``.
MODELS: Registry[type[nn.Module]] = Registry("model")

_FORMAT = "ofmu-vision-model/1"


def _check_dims(*, in_channels: int, num_classes: int, width: int) -> None:
    for name, value in (("in_channels", in_channels), ("num_classes", num_classes), ("width", width)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {name}={value!r}")


class BasicBlock(nn.Module):
    """Two 3×3 conv-BN layers with a residual connection (1×1 conv-BN shortcut when the shape changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample = nn.Sequential()  # identity
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, C_in, H, W)
        out = F.relu(self.bn1(self.conv1(x)))  # (B, C_out, H/s, W/s)
        out = self.bn2(self.conv2(out))  # (B, C_out, H/s, W/s)
        return F.relu(out + self.downsample(x))  # (B, C_out, H/s, W/s)


def _stage(c_in: int, c_out: int, *, stride: int) -> nn.Sequential:
    """Two BasicBlocks; the first changes width and resolution."""
    return nn.Sequential(BasicBlock(c_in, c_out, stride), BasicBlock(c_out, c_out, 1))


@MODELS.register("resnet18")
class ResNet18(nn.Module):
    """ResNet-18 for small images, as in SalUn / Unlearn-Sparse (``models/ResNet.py``, ``imagenet=False``).

    BasicBlock stages [2, 2, 2, 2] with widths w, 2w, 4w, 8w (w = ``width``, 64 in the papers);
    a 3×3 stride-1 stem and no max-pool; adaptive average pooling, so 32×32, 28×28 and 8×8 inputs all
    work. Initialisation as theirs: Kaiming-normal (fan_out) convolutions, BatchNorm weight 1 / bias 0,
    PyTorch's default for the linear head. Parameter names match their checkpoints except their
    in-network ``normalize.*`` buffers (we normalise in the data with the same CIFAR constants).
    width=64, 3 channels, 10 classes: 11,173,962 parameters.

    Args:
        in_channels: image channels C.
        num_classes: number of classes K.
        width: channels of the first stage w.
    """

    def __init__(self, *, in_channels: int = 3, num_classes: int = 10, width: int = 64) -> None:
        super().__init__()
        _check_dims(in_channels=in_channels, num_classes=num_classes, width=width)
        self.conv1 = nn.Conv2d(in_channels, width, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        w = width
        self.layer1 = _stage(w, w, stride=1)
        self.layer2 = _stage(w, 2 * w, stride=2)
        self.layer3 = _stage(2 * w, 4 * w, stride=2)
        self.layer4 = _stage(4 * w, 8 * w, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8 * width, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, C, H, W)
        x = F.relu(self.bn1(self.conv1(x)))  # (B, w, H, W)
        x = self.layer1(x)  # (B, w, H, W)
        x = self.layer2(x)  # (B, 2w, H/2, W/2)
        x = self.layer3(x)  # (B, 4w, H/4, W/4)
        x = self.layer4(x)  # (B, 8w, H/8, W/8)
        x = self.avgpool(x).flatten(1)  # (B, 8w)
        return self.fc(x)  # (B, K)


@MODELS.register("small_cnn")
class SmallCNN(nn.Module):
    """Two conv-ReLU-max-pool layers and a two-layer MLP head; fast on CPU for any input of 4×4 or more.

    Args:
        in_channels: image channels C.
        num_classes: number of classes K.
        width: channels of the first conv (the second has 2·width); the head has 4·width hidden units.
    """

    def __init__(self, *, in_channels: int = 1, num_classes: int = 10, width: int = 32) -> None:
        super().__init__()
        _check_dims(in_channels=in_channels, num_classes=num_classes, width=width)
        self.conv1 = nn.Conv2d(in_channels, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.fc1 = nn.Linear(2 * width * 4 * 4, 4 * width)
        self.fc2 = nn.Linear(4 * width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, C, H, W)
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)  # (B, w, H/2, W/2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)  # (B, 2w, H/4, W/4)
        x = self.pool(x).flatten(1)  # (B, 2w·16)
        x = F.relu(self.fc1(x))  # (B, 4w)
        return self.fc2(x)  # (B, K)


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """What is needed to rebuild a model: registry name, input channels, classes, width."""

    name: str
    in_channels: int
    num_classes: int
    width: int

    def to_dict(self) -> dict[str, object]:
        """Plain dict (stored inside checkpoints)."""
        return asdict(self)


def build_model(
    name: str, *, in_channels: int, num_classes: int, width: int | None = None, seed: int | None = None
) -> nn.Module:
    """Build the registered model ``name``; the result carries its :class:`ModelSpec` as ``model.spec``.

    Args:
        name: one of ``MODELS.names()``.
        in_channels: image channels C.
        num_classes: number of classes K.
        width: the model's width (None: its default, 64 for ResNet-18, 32 for the small CNN).
        seed: when given, the initial weights depend only on it (the global torch RNG is left untouched).
    """
    builder = MODELS.get(name)
    spec = ModelSpec(
        name=name, in_channels=in_channels, num_classes=num_classes,
        width=inspect.signature(builder).parameters["width"].default if width is None else width,
    )
    if seed is None:
        model = builder(in_channels=spec.in_channels, num_classes=spec.num_classes, width=spec.width)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = builder(in_channels=spec.in_channels, num_classes=spec.num_classes, width=spec.width)
    model.spec = spec  # type: ignore[assignment]  # a plain attribute; torch's stubs expect Tensor | Module
    return model


def num_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def save_model(path: str | os.PathLike[str], model: nn.Module) -> None:
    """Atomically save a model built by :func:`build_model` (spec + CPU state dict, ``torch.save``)."""
    spec = getattr(model, "spec", None)
    if not isinstance(spec, ModelSpec):
        raise ValueError("model has no ModelSpec in model.spec; build it with vision.models.build_model")
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    payload = {"format": _FORMAT, "spec": spec.to_dict(), "state_dict": state}
    atomic_write_with(path, lambda tmp: torch.save(payload, tmp))


def load_model(path: str | os.PathLike[str], *, map_location: str | torch.device = "cpu") -> nn.Module:
    """Rebuild and load a model saved by :func:`save_model` (``torch.load(weights_only=True)``).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not a checkpoint written by :func:`save_model`.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model checkpoint at {path}")
    payload = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        raise ValueError(f"{path} is not a vision model checkpoint (expected format {_FORMAT!r})")
    spec = ModelSpec(**payload["spec"])
    model = build_model(spec.name, in_channels=spec.in_channels, num_classes=spec.num_classes, width=spec.width)
    model.load_state_dict(payload["state_dict"], strict=True)
    return model.to(map_location)
