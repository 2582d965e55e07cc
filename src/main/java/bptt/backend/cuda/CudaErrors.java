// CudaErrors: turns CUDA driver, NVRTC and cuBLAS status codes into exceptions that say what failed and what to do.
package bptt.backend.cuda;

import bptt.backend.DeviceOutOfMemoryException;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;
import jcuda.jcublas.cublasStatus;

import java.util.Locale;

/** Status-code checks for the cuda backend. Every message names the call (or kernel) and the CUDA error. */
final class CudaErrors {
    private CudaErrors() { }

    /** A CUDA call that returned an error: {@code what} names the call or kernel. */
    static final class CudaFailure extends RuntimeException {
        final int code;

        CudaFailure(String message, int code) {
            super(message);
            this.code = code;
        }
    }

    /** Throws unless a driver API call succeeded. */
    static void check(int result, String what) {
        if (result != CUresult.CUDA_SUCCESS) {
            throw failure(result, what);
        }
    }

    /** The failure of a driver API call that returned {@code result} (callers that build {@code what} only then). */
    static CudaFailure failure(int result, String what) {
        return new CudaFailure(what + " failed: " + CUresult.stringFor(result) + driverText(result) + hint(result),
                result);
    }

    /** The driver's own words for an error (cuGetErrorString), in parentheses, or "" when it has none. */
    static String driverText(int result) {
        try {
            String[] text = new String[1];
            return JCudaDriver.cuGetErrorString(result, text) == CUresult.CUDA_SUCCESS && text[0] != null
                    ? " (" + text[0] + ")" : "";
        } catch (LinkageError e) {
            return "";
        }
    }

    /** Throws unless a cuBLAS call succeeded. */
    static void checkCublas(int status, String what) {
        if (status != cublasStatus.CUBLAS_STATUS_SUCCESS) {
            throw cublasFailure(status, what);
        }
    }

    /** The failure of a cuBLAS call that returned {@code status}. */
    static CudaFailure cublasFailure(int status, String what) {
        return new CudaFailure(what + " failed: " + cublasStatus.stringFor(status), status);
    }

    /** What to do about the driver errors a user can act on. */
    static String hint(int result) {
        return switch (result) {
            case CUresult.CUDA_ERROR_UNSUPPORTED_PTX_VERSION ->
                    " (the PTX that NVRTC produced is newer than this driver can load: install a driver at least as"
                            + " new as the CUDA toolkit whose libnvrtc.so.12 is on the library path, or put an older"
                            + " CUDA 12.x toolkit's lib64 first on LD_LIBRARY_PATH)";
            case CUresult.CUDA_ERROR_SYSTEM_DRIVER_MISMATCH ->
                    " (the user-space driver libcuda.so.1 and the loaded kernel module differ in version, typically"
                            + " after a driver update: reboot, or reload the nvidia kernel module)";
            case CUresult.CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE ->
                    " (the CUDA forward-compatibility package does not support this GPU: install a native NVIDIA"
                            + " driver for CUDA 12, version 525.60 or newer)";
            case CUresult.CUDA_ERROR_NO_DEVICE -> " (no CUDA-capable GPU is visible; check nvidia-smi and"
                    + " CUDA_VISIBLE_DEVICES)";
            case CUresult.CUDA_ERROR_NO_BINARY_FOR_GPU, CUresult.CUDA_ERROR_INVALID_PTX ->
                    " (the kernels were compiled for another GPU architecture; report this with the output of"
                            + " 'bptt devices')";
            default -> "";
        };
    }

    /** The message for a failed device allocation: sizes, and what would make the run fit. */
    static String outOfMemoryMessage(long requestedBytes, long freeBytes, long totalBytes, long heldByBptt) {
        return String.format(Locale.ROOT, "CUDA device out of memory: requested %s, free %s of %s (bptt holds %s);"
                        + " try a smaller --batch or --hidden, or --checkpoint-every to recompute activations"
                        + " instead of storing them, or free the GPU from other processes (see nvidia-smi)",
                bytes(requestedBytes), bytes(freeBytes), bytes(totalBytes), bytes(heldByBptt));
    }

    static DeviceOutOfMemoryException outOfMemory(long requestedBytes, long freeBytes, long totalBytes, long held) {
        return new DeviceOutOfMemoryException(outOfMemoryMessage(requestedBytes, freeBytes, totalBytes, held));
    }

    /** Bytes with their exact count and a binary unit: "1610612736 bytes (1.50 GiB)". */
    static String bytes(long n) {
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = n;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return n + " bytes" + (u < 0 ? "" : String.format(Locale.ROOT, " (%.2f %s)", v, units[u]));
    }
}
