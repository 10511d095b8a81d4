"""The benchmarks' shared code: ``kernels`` (reference kernels, ``measure``, same-run ratios)
and ``report`` (the Markdown and JSON of a run) for every ``benchmarks/<topic>.py``;
``pipeline``, ``probes`` and ``timed`` for benchmarks/run.py."""
