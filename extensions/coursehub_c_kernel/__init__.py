"""coursehub's C kernel: C notebook cells as one program (definitions accumulate;
statements run as ``main``), compiled with gcc. See :mod:`coursehub_c_kernel.cunit`."""

__version__ = "0.1.0"
