"""BatchNorm factory: plain BatchNorm2D (PaddleGAN's state-dict names), eps 1e-5."""

from __future__ import annotations

import paddle.nn as nn


def batch_norm(num_features: int) -> nn.BatchNorm2D:
    """BatchNorm over channels; keys ``weight``, ``bias``, ``_mean``, ``_variance``.

    Multi-GPU training converts these with ``nn.SyncBatchNorm.convert_sync_batchnorm``.
    """
    return nn.BatchNorm2D(num_features, epsilon=1e-5, momentum=0.9)
