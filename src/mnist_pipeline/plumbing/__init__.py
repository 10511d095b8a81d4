"""What stages and tools share: params, files, IDX, threads, the stage runner, PNGs and the
estimator table."""
