"""Feature extractors that turn images into the vectors non-deep methods hash.

A feature is a function from uint8 images (n, H, W, C) to float32 vectors (n, d), registered
under a name. Expensive features are cached per data set, keyed by the data set's checksum.
The feature's name is part of every run's config and record.

Unless ``--feature`` names one, non-deep methods take the feature their literature gives
them on the data set (:func:`default_feature`). The choice lives here, by data set, not in
the protocol files: a protocol file's bytes are checksummed into every record's config, so a
key added there would rename every committed run of that protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hashbench.data.cache import cached_array
from hashbench.data.dataset import Dataset
from hashbench.errors import HashbenchError

FeatureFunction = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Feature:
    name: str
    compute: FeatureFunction
    description: str
    #: Bump when the computation changes, so stale cache entries are never read.
    version: int = 1
    cache: bool = True


_FEATURES: dict[str, Feature] = {}


def register_feature(
    name: str, description: str, version: int = 1, cache: bool = True
) -> Callable[[FeatureFunction], FeatureFunction]:
    def decorate(function: FeatureFunction) -> FeatureFunction:
        _FEATURES[name] = Feature(name, function, description, version, cache)
        return function

    return decorate


#: The feature non-deep methods take on a data set when none is named: the literature's where
#: hashbench can compute it. GIST for every image set (CIFAR-10 in all its protocols, as the
#: ITQ, SH, DPSH, DSDH and ADSH papers give their non-deep baselines, and the mosaics made
#: of it; the multi-label sets, whose literature's own features, such as NUS-WIDE's released
#: bag of SIFT words or a CNN's activations, cannot be computed from the images alone; any
#: image folder): 512 values whatever the image size. Digits' 8 x 8 images are their own
#: features: their 64 pixels, as every experiment on them uses.
DATASET_FEATURES: dict[str, str] = {"digits": "pixels"}
IMAGE_FEATURE = "gist"


def default_feature(dataset: str) -> str:
    """The feature non-deep methods take on data set ``dataset`` unless told otherwise."""
    return DATASET_FEATURES.get(dataset, IMAGE_FEATURE)


def list_features() -> list[Feature]:
    return [_FEATURES[name] for name in sorted(_FEATURES)]


def get_feature(name: str) -> Feature:
    if name not in _FEATURES:
        known = ", ".join(sorted(_FEATURES))
        raise HashbenchError(f"unknown feature {name!r}; known features: {known}")
    return _FEATURES[name]


def compute_features(dataset: Dataset, name: str) -> np.ndarray:
    """float32 (n, d) features of every image of ``dataset``, from the cache when possible."""
    feature = get_feature(name)

    def compute() -> np.ndarray:
        return np.ascontiguousarray(feature.compute(dataset.images), dtype=np.float32)

    if not feature.cache:
        return compute()
    key = f"{dataset.checksum[:20]}-{feature.name}-v{feature.version}"
    return cached_array("features", key, compute)


@register_feature("pixels", "raw pixel intensities scaled to [0, 1], flattened", cache=False)
def pixel_features(images: np.ndarray) -> np.ndarray:
    return images.reshape(len(images), -1).astype(np.float32) / 255.0


@register_feature(
    "gist",
    "512-d GIST (Oliva & Torralba; LMgist.m: 4 scales x 8 orientations x 4x4 blocks, "
    "grey 32x32, prefiltered), the literature's feature for non-deep baselines on CIFAR-10",
    version=1,
)
def gist_features(images: np.ndarray) -> np.ndarray:
    from hashbench.features.gist import gist_descriptor  # torch: only when GIST is computed

    return gist_descriptor(images)
