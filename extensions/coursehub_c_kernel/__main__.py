"""``python -m coursehub_c_kernel -f <connection file>``: start the C kernel."""

from ipykernel.kernelapp import IPKernelApp

from .kernel import CKernel

if __name__ == "__main__":
    IPKernelApp.launch_instance(kernel_class=CKernel)
