"""The benchmark behind benchmarks/run.py: ``harness`` (the copy, the stage wrapper, timed dvc
commands), ``kernels`` (micro-benchmarks and reference kernels, each in a fresh interpreter),
``report`` (medians, targets, ratios and the Markdown), ``records`` (what they pass around)."""
