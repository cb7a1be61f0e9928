"""Training and evaluation of the First Order Motion Model on your own videos.

The networks are the inference ones (:mod:`ppgan_fom.modules`, built by
:func:`ppgan_fom.model.build_fomm` with ``inference=False``); this package adds what
training needs around them:

* :mod:`.train_config` - the training sections of a PaddleGAN / first-order-model YAML;
* :mod:`.dataset`, :mod:`.augmentation`, :mod:`.loader` - video datasets, pairs, batches;
* :mod:`.tps`, :mod:`.losses`, :mod:`.vgg`, :mod:`.discriminator` - FOMM's losses;
* :mod:`.full_model` - the generator / discriminator loss wrappers;
* :mod:`.optim`, :mod:`.checkpoint`, :mod:`.init` - optimisers, LR schedule, checkpoints;
* :mod:`.trainer`, :mod:`.logger`, :mod:`.visualizer` - the loop, logs and PNG grids;
* :mod:`.distributed` - data-parallel training over processes (``paddle.distributed.launch``);
* :mod:`.evaluator` - the reconstruction benchmark (L1, optional AKD / AED);
* :mod:`.cli` - ``applications/tools/train.py`` and ``evaluate.py``.

Importing this package does not import Paddle.
"""

__all__ = ["load_train_config", "TrainConfig", "Trainer", "Evaluator"]


def __getattr__(name):  # lazy, keep `import ppgan_fom.training` cheap
    if name in ("load_train_config", "TrainConfig"):
        from . import train_config

        return getattr(train_config, name)
    if name == "Trainer":
        from .trainer import Trainer

        return Trainer
    if name == "Evaluator":
        from .evaluator import Evaluator

        return Evaluator
    raise AttributeError(f"module 'ppgan_fom.training' has no attribute {name!r}")
