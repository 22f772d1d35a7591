"""The feature-extractor family behind the image metrics: ganzoo's small classifier CNNs and torch-fidelity's
InceptionV3. A built-in plugin like the others: the core knows no extractor; the metric plugins use this package,
and ``ganzoo extractor`` arrives through the ``register_commands`` hook (:mod:`.commands`).

FID, IS, KID and precision/recall compare images in some network's feature space. The standard network is
torch-fidelity's InceptionV3, whose weights are downloaded on first use; offline machines must be handed the file.
For 28x28 grey data a classifier trained on the data set itself is the usual offline stand-in ("classifier FID",
docs/science.md): ganzoo ships two, trained by ``ganzoo extractor train``:

| name | trained on | held out |
|---|---|---|
| fashion-cnn | Fashion-MNIST's train split (60,000) | its test split (10,000) |
| digits-cnn | 80 % of scikit-learn's digits, 8x8 upsampled to 28x28 by the digits data set | a seeded 20 % |

Both expose the features "128" (penultimate layer, for FID/KID/PRC) and "logits" (10 classes, for IS).

The weights ship as ``ganzoo_plugins/weights/NAME.safetensors`` with ``NAME.json`` (accuracy, sha256, epochs,
command). ``$GANZOO_EXTRACTOR_DIR`` points at a folder of retrained weights to use instead. Every score records the
extractor's name (``FID[fashion-cnn]``), and cached reference features are keyed by the weights' sha256, so scores
of different weights are never mixed. The cache is ganzoo's own (safetensors + a JSON sidecar with their sha256 in
``GANZOO_HOME/cache/features``): torch-fidelity's cache, which unpickles, is never used.

Both kinds are registered into torch-fidelity (``register_feature_extractor``) and take what torch-fidelity feeds any
extractor: uint8 image batches [B, C, H, W].
"""


from ganzoo_plugins.extractors.cache import (
    FeatureCacheWarning,
    feature_cache_dir,
    feature_cache_files,
    fidelity_version,
    file_sha256,
    load_cached_features,
    save_cached_features,
)
from ganzoo_plugins.extractors.classifier import (
    CLASSIFIER_SIZE,
    CLASSIFIERS,
    EXTRACTOR_DIR_ENV,
    EXTRACTOR_NAMES,
    FEATURES,
    FIDELITY_INCEPTION,
    INCEPTION,
    INCEPTION_ENV,
    LOGITS,
    ClassifierCNN,
    ClassifierInfo,
    ClassifierWeights,
    classifier_info,
    clear_classifier_cache,
    default_extractor,
    find_classifier_weights,
    images_to_classifier_input,
    load_classifier,
    shipped_weights_dir,
    weights_dir,
)
from ganzoo_plugins.extractors.fidelity import (
    FIDELITY_FLAGS,
    REAL_METRICS,
    FidelityScores,
    feature_dim,
    fidelity_classifier_class,
    fidelity_feature_layers,
    fidelity_scores,
    find_inception_weights,
    image_dataset,
    inception_url,
    register_with_fidelity,
)
from ganzoo_plugins.extractors.training import TrainedClassifier, accuracy, classifier_splits, train_classifier

from ganzoo import sha256_file

__all__ = [
    "CLASSIFIERS", "CLASSIFIER_SIZE", "EXTRACTOR_DIR_ENV", "EXTRACTOR_NAMES", "FEATURES", "FIDELITY_FLAGS",
    "FIDELITY_INCEPTION", "INCEPTION", "INCEPTION_ENV", "LOGITS", "REAL_METRICS", "ClassifierCNN", "ClassifierInfo",
    "ClassifierWeights", "FeatureCacheWarning", "FidelityScores", "TrainedClassifier", "accuracy",
    "classifier_info", "classifier_splits", "clear_classifier_cache", "default_extractor", "feature_cache_dir",
    "feature_cache_files", "feature_dim", "fidelity_classifier_class", "fidelity_feature_layers",
    "fidelity_scores", "fidelity_version", "file_sha256", "find_classifier_weights", "find_inception_weights",
    "image_dataset", "images_to_classifier_input", "inception_url", "load_cached_features", "load_classifier",
    "register_with_fidelity", "save_cached_features", "sha256_file", "shipped_weights_dir", "train_classifier",
    "weights_dir",
]
