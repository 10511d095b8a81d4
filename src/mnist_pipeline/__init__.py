"""The mnist-pipeline package: the stages, the tools that read their results, the estimators,
and the plumbing they share.

Importing it pins OpenBLAS to its Haswell (AVX2) kernels on an x86-64 CPU that has them, unless
``OPENBLAS_CORETYPE`` is already set: OpenBLAS otherwise picks its kernels by CPU, and the
AVX-512 ones sum in another order, so the same params gave other bits on another machine (the
PCA spectrum, logistic regression's weights and a few of its predictions). OpenBLAS reads the
variable when NumPy loads it, so the package must be imported before NumPy: the stage scripts
and tests/conftest.py do.

It also turns off pydantic's plugins (``PYDANTIC_DISABLE_PLUGINS``, unless set): none is used,
and looking for them reads every installed package's metadata, a fifth of the time a stage
spends loading its params.
"""

import os


def _pin_blas_kernel() -> None:
    if "OPENBLAS_CORETYPE" in os.environ or os.uname().machine != "x86_64":
        return
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            flags = next((line for line in cpuinfo if line.startswith("flags")), "").split()
    except OSError:
        return
    if {"avx2", "fma"} <= set(flags):
        os.environ["OPENBLAS_CORETYPE"] = "Haswell"


_pin_blas_kernel()
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
