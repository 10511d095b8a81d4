"""One module per estimator name of params.yaml (``models.<m>.estimator``), each defining
``SPEC``, a ``registry.EstimatorSpec``: the class it builds, params.yaml aliases, thread
settings and the checks of its own. A new module here is a new name; dvc.yaml makes a model's
train and evaluate stages depend on its estimator's module alone."""
