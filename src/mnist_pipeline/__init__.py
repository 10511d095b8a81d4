"""The mnist-pipeline package: the stages, the tools that read their results, the estimators,
and the plumbing they share.

Importing it pins the CPU kernels of the numerical libraries to AVX2 on an x86-64 CPU that has
AVX2 and FMA, unless the variable is already set: each library otherwise picks its kernels by
CPU, and the AVX-512 ones sum in another order, so the same params gave other bits on another
machine. Each library reads its variable when it loads, so the package must be imported before
NumPy and PyTorch: the stage scripts and tests/conftest.py do.

- ``OPENBLAS_CORETYPE=Haswell``: NumPy's OpenBLAS (the PCA spectrum, logistic regression's
  weights and a few of its predictions differed).
- ``NPY_DISABLE_CPU_FEATURES``: NumPy's own AVX-512 loops (its float64 ``exp`` and ``log``,
  which the from-scratch gradient descent's sigmoid and loss use: ``train@gd_4``'s weights
  differed in their last bits between a machine with AVX-512 and one without).
- ``ATEN_CPU_CAPABILITY=avx2``: PyTorch's own vectorised CPU kernels (activations, pooling,
  the optimiser's updates).
- ``ONEDNN_MAX_CPU_ISA=AVX2``: oneDNN, PyTorch's convolutions.
- ``MKL_CBWR=AVX2``: MKL, PyTorch's matrix products, in its conditional-numerical-
  reproducibility mode for that instruction set.

It also turns off pydantic's plugins (``PYDANTIC_DISABLE_PLUGINS``, unless set): none is used,
and looking for them reads every installed package's metadata, a fifth of the time a stage
spends loading its params.
"""

import os

AVX2_PINS = {
    "OPENBLAS_CORETYPE": "Haswell",
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_CBWR": "AVX2",
}
"""The variable of each library, and its value that selects the AVX2 kernels."""


def _pin_cpu_kernels() -> None:
    if os.uname().machine != "x86_64":
        return
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            flags = next((line for line in cpuinfo if line.startswith("flags")), "").split()
    except OSError:
        return
    if {"avx2", "fma"} <= set(flags):
        for name, value in AVX2_PINS.items():
            os.environ.setdefault(name, value)


_pin_cpu_kernels()
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
