"""The mnist-pipeline package. Importing it (before NumPy and PyTorch, as the stage scripts and
tests/conftest.py do) pins each numerical library's CPU kernels to AVX2 where the CPU has AVX2
and FMA: the AVX-512 ones sum in another order, so the same params gave other bits elsewhere."""

import os

AVX2_PINS = {  # each library's variable (read when it loads), unless already set
    "OPENBLAS_CORETYPE": "Haswell",  # NumPy's OpenBLAS: the PCA spectrum, logistic regression
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",  # exp and log: gd_4's weights
    "ATEN_CPU_CAPABILITY": "avx2",  # PyTorch's kernels: activations, pooling, optimiser updates
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # oneDNN: PyTorch's convolutions
    "MKL_CBWR": "AVX2",  # MKL's reproducible mode: PyTorch's matrix products
}


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
# no pydantic plugin is used, and looking for them reads every installed package's metadata
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
