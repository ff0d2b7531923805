"""Build and call the fused C kernel of ``ckernel.c`` (ctypes; no extra dependency).

``load()`` compiles the kernel once per process into a temporary folder with the system C
compiler (``$CC`` or ``cc``), with OpenMP when the compiler accepts ``-fopenmp``; it returns
None with a reason when no compiler is found, so the bench can skip the column with a note.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SOURCE = Path(__file__).with_name("ckernel.c")
METHODS = {"adam": 0, "aida12": 1}
FLAGS = ["-O3", "-march=native", "-ffp-contract=off", "-shared", "-fPIC"]


@dataclass
class Kernel:
    lib: ctypes.CDLL
    openmp: bool
    compiler: str

    def run(self, method: str, x0, lrs, steps: int, b1: float, b2: float, eps: float):
        """Final parameters (K, n) after ``steps`` steps from x0 for each learning rate."""
        dtype = np.asarray(x0).dtype
        fn, ctype = (
            (self.lib.sweep_f64, ctypes.c_double)
            if dtype == np.float64
            else (self.lib.sweep_f32, ctypes.c_float)
        )
        lrs = np.ascontiguousarray(lrs, dtype)
        x = np.ascontiguousarray(np.broadcast_to(x0, (lrs.size, np.size(x0))), dtype).copy()
        ptr = ctypes.POINTER(ctype)
        fn(
            ctypes.c_int(METHODS[method]),
            ctypes.c_int(lrs.size),
            ctypes.c_int(x.shape[1]),
            ctypes.c_int(steps),
            lrs.ctypes.data_as(ptr),
            ctype(b1),
            ctype(b2),
            ctype(eps),
            x.ctypes.data_as(ptr),
        )
        return x


def set_threads(n: int) -> None:
    """OpenMP threads for the next calls (through libgomp's omp_set_num_threads)."""
    for name in ("libgomp.so.1", "libomp.so"):
        try:
            ctypes.CDLL(name).omp_set_num_threads(ctypes.c_int(n))
            return
        except OSError:
            continue


def load() -> tuple[Kernel | None, str]:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None, "no C compiler found (set CC): C-kernel column skipped"
    out = Path(tempfile.mkdtemp(prefix="optlab-ckernel-")) / "ckernel.so"
    for openmp in (True, False):
        cmd = [cc, *FLAGS, *(["-fopenmp"] if openmp else []), str(SOURCE), "-o", str(out), "-lm"]
        if subprocess.run(cmd, capture_output=True).returncode == 0:
            lib = ctypes.CDLL(str(out))
            for fn, ctype in ((lib.sweep_f64, ctypes.c_double), (lib.sweep_f32, ctypes.c_float)):
                fn.restype = None
                fn.argtypes = [ctypes.c_int] * 4 + [ctypes.POINTER(ctype)] + [ctype] * 3
                fn.argtypes += [ctypes.POINTER(ctype)]
            return Kernel(lib, openmp, cc), "" if openmp else "compiled without OpenMP"
    return None, f"{cc} could not compile {SOURCE.name}: C-kernel column skipped"
