"""Are the classifier-FID / IS / KID numbers right? Checks on real data whose answer is known in kind.

Real images come through the data-set plugins (Fashion-MNIST from /usr/share/datasets/fashion-mnist, digits from
scikit-learn); features through the shipped classifier as torch-fidelity's feature extractor; the scores through
torch-fidelity's own formulas (the functions ``calculate_metrics`` calls). Each image set's features are computed once
per module so that the whole file stays fast; one test checks that this matches ``fidelity_scores`` end to end.

Measured with the shipped weights (2,000 images a side; the bounds below leave room around these):

| | fashion-cnn (2,000 a side) | digits-cnn (800 a side) |
|---|---|---|
| FID(set, itself) | ~4e-12 | ~2e-10 |
| FID(test, train) | 4.3 | 11.5 |
| FID, Gaussian noise std 0.02, 0.05, 0.1, 0.2, 0.4 (x 255) | 8.0, 43.6, 148.7, 407.4, 725.6 | 13, 27, 118, 642, 2,461 |
| FID(one class repeated, train) | 1,000 | 1,342 |
| KID(test, train) / KID(one class, train) | -0.3 / 1,357 | |
| IS(balanced real test images), 10 classes | 8.65 | 9.5 |
| IS(one class) | 1.20 (T-shirts, confused with shirts) | 1.005 |
"""

from __future__ import annotations

import ganzoo_plugins.extractors as extractors
import pytest
import torch
from data_support import FASHION_MISSING, HAVE_FASHION

from ganzoo.plugin.data import TensorData
from ganzoo.plugin.loading import get_registry

SIGMAS = (0.02, 0.05, 0.1, 0.2, 0.4)  # Gaussian noise std in units of the [-1, 1] range / 2, i.e. of 255 levels


def pick(samples: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    return samples[torch.randperm(len(samples), generator=torch.Generator().manual_seed(seed))[:n]]


def noisy(images: torch.Tensor, sigma: float) -> torch.Tensor:
    noise = torch.randn(images.shape, generator=torch.Generator().manual_seed(2))
    return (images.float() + sigma * 255 * noise).round().clamp(0, 255).to(torch.uint8)


class Scores:
    """Features of named image sets through one classifier (torch-fidelity's extractor interface), and
    torch-fidelity's FID / IS / KID formulas on them."""

    def __init__(self, extractor: str, sets: dict[str, torch.Tensor]) -> None:
        from torch_fidelity.utils import create_feature_extractor, get_featuresdict_from_dataset

        extractors.register_with_fidelity()
        fe = create_feature_extractor(extractor, [extractors.FEATURES, extractors.LOGITS], cuda=False, verbose=False)
        self.images = sets
        self.features = {name: get_featuresdict_from_dataset(extractors.image_dataset(images, 1), fe, 500, False, True,
                                                             False) for name, images in sets.items()}

    def fid(self, a: str, b: str) -> float:
        from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_features_to_statistics, fid_statistics_to_metric

        stats = [fid_features_to_statistics(self.features[s][extractors.FEATURES]) for s in (a, b)]
        return fid_statistics_to_metric(*stats, verbose=False)[KEY_METRIC_FID]

    def inception_score(self, a: str) -> float:
        from torch_fidelity.metric_isc import KEY_METRIC_ISC_MEAN, isc_features_to_metric

        return isc_features_to_metric(self.features[a][extractors.LOGITS])[KEY_METRIC_ISC_MEAN]

    def kid(self, a: str, b: str) -> float:
        from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, kid_features_to_metric

        return kid_features_to_metric(self.features[a][extractors.FEATURES], self.features[b][extractors.FEATURES],
                                      kid_subsets=20, kid_subset_size=500, verbose=False)[KEY_METRIC_KID_MEAN]


def image_sets(test: TensorData, train: TensorData, n: int) -> dict[str, torch.Tensor]:
    real = pick(test.samples, n, 0)
    one_class = train.samples[train.labels == 0]
    one_class = one_class.repeat(-(-n // len(one_class)), 1, 1, 1)  # repeated up to n images if it has fewer
    sets = {"test": real, "train": pick(train.samples, n, 1), "one_class": pick(one_class, n, 2)}
    sets.update({f"noise{sigma}": noisy(real, sigma) for sigma in SIGMAS})
    return sets


@pytest.fixture(scope="module")
def fashion() -> Scores:
    if not HAVE_FASHION:
        pytest.skip(FASHION_MISSING)
    spec = get_registry().dataset("fashion-mnist")
    return Scores("fashion-cnn", image_sets(spec.factory(split="test"), spec.factory(split="train"), 2000))


@pytest.fixture(scope="module")
def digits() -> Scores:
    data = get_registry().dataset("digits").factory()
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(1))
    halves = [TensorData("digits", data.samples[i], labels=data.labels[i]) for i in (order[:800], order[-800:])]
    return Scores("digits-cnn", image_sets(halves[0], halves[1], 800))


#: Upper bounds for real vs real (measured values in the module docstring)
FASHION_REAL_FID = 10.0
DIGITS_REAL_FID = 25.0
#: Lower bounds for IS of balanced real data (10 classes)
FASHION_IS = 7.0
DIGITS_IS = 8.5


@pytest.fixture(params=["fashion", "digits"])
def scores(request: pytest.FixtureRequest) -> tuple[Scores, float, float]:
    if request.param == "fashion":
        return request.getfixturevalue("fashion"), FASHION_REAL_FID, FASHION_IS
    return request.getfixturevalue("digits"), DIGITS_REAL_FID, DIGITS_IS


def test_fid_of_a_set_with_itself_is_zero(scores) -> None:  # noqa: ANN001
    s, _, _ = scores
    assert abs(s.fid("test", "test")) < 1e-4


def test_fid_of_real_test_against_real_train_is_small(scores) -> None:  # noqa: ANN001
    s, bound, _ = scores
    real = s.fid("test", "train")
    assert 0 < real < bound
    assert real < s.fid("noise0.05", "train")


def test_fid_grows_monotonically_with_gaussian_noise(scores) -> None:  # noqa: ANN001
    s, _, _ = scores
    fids = [s.fid(f"noise{sigma}", "train") for sigma in SIGMAS]
    assert fids == sorted(fids) and len(set(fids)) == len(fids), fids
    assert fids[0] > s.fid("test", "train")


def test_one_class_repeated_scores_far_worse_than_real_data(scores) -> None:  # noqa: ANN001
    s, _, _ = scores
    real, collapsed = s.fid("test", "train"), s.fid("one_class", "train")
    assert collapsed > 20 * real
    kid_real, kid_collapsed = s.kid("test", "train"), s.kid("one_class", "train")
    assert kid_collapsed > 0 and abs(kid_real) < 0.02 * kid_collapsed


def test_inception_score_of_balanced_real_data_is_close_to_the_number_of_classes(scores) -> None:  # noqa: ANN001
    s, _, lower = scores
    assert lower < s.inception_score("test") <= 10.0


def test_inception_score_of_one_class_is_close_to_one(scores) -> None:  # noqa: ANN001
    s, _, _ = scores
    assert 1.0 <= s.inception_score("one_class") < 1.5


def test_the_feature_path_matches_fidelity_scores_end_to_end(digits: Scores) -> None:
    end_to_end = extractors.fidelity_scores(digits.images["noise0.1"], digits.images["train"],
                                            extractor="digits-cnn", metrics=("fid", "is"))
    assert end_to_end.values["fid"] == pytest.approx(digits.fid("noise0.1", "train"), rel=1e-6)
    assert end_to_end.values["is"] == pytest.approx(digits.inception_score("noise0.1"), rel=1e-6)
