"""The benchmarks' shared code: ``kernels`` (reference kernels, ``measure``, ``timed``, same-run
ratios) and ``report`` (a run's Markdown and JSON); ``pipeline`` and ``probes`` for run.py."""
