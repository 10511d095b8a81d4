"""The mnist-pipeline package: the stages, the tools that read their results, the estimators,
and the plumbing they share."""
