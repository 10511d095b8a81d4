"""What stages and tools share: params, files, IDX, threads, the stage runner, PNGs, the
estimator table, and the download's verified writes and deadline-bounded HTTP fetch."""
